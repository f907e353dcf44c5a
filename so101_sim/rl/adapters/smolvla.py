"""SmolVLA (stock ``smolvla`` and our ``smolvla_tactile``) behind the ReinFlow adapter protocol, with no fork.

Only public LeRobot methods are called (0.4.x and 0.6.x), the same ones ``VLAFlowMatching.sample_actions`` calls:
``SmolVLAPolicy.prepare_images`` / ``prepare_state``, ``VLAFlowMatching.embed_prefix``, the prefix pass of
``vlm_with_expert.forward`` and ``VLAFlowMatching.denoise_step`` (the lines differ only in the cache object, see
:class:`_PrefixCacheFace`). Nothing in LeRobot is patched; the noise head's input (the action expert's output
tokens, ``(B, chunk, expert_width)``) is read with a plain ``register_forward_pre_hook`` on ``action_out_proj`` for
the duration of one call.

What RL trains and what it does not:

- Frozen: the VLM (vision encoder, connector, text layers), ``state_proj`` and, for ``smolvla_tactile``, the
  tactile embedding. Everything that reaches the prefix is frozen, so the prefix KV cache is a pure function of
  the observation: :meth:`SmolVLAAdapter.encode` computes it once per observation, and the PPO buffer reuses it
  for the K denoising steps of the rollout and for every re-score in every PPO epoch (it is read, never written).
- Trained, in fp32: the action expert (``vlm_with_expert.lm_expert``) and the action/time projections
  (``action_in_proj``, ``action_out_proj``, ``action_time_mlp_in/out``). The noise head belongs to the chain
  core (:class:`so101_sim.rl.chain.ReinFlowChain`) and never enters the exported checkpoint.
- The VLM may run in bf16 (``vlm_dtype="bfloat16"``, a GPU speed option): the cache is then bf16 and the fp32
  expert up-casts it. bf16 re-scoring can drift with the minibatch layout (the research probe saw up to 0.85 nat
  with the prefix recomputed per minibatch); with the prefix cached from the rollout, benchmarks/bench_rl_smolvla.py
  measured <= 1.2e-4 nat on an H200 for fp32 and bf16 experts alike. The expert stays fp32 all the same, and the
  PPO update recomputes pi_old in its own minibatch layout.

SmolVLA integrates from t=1 (noise) to t=0 (action): ``spec.time_direction == "reverse"``; the time grid itself
comes from :func:`so101_sim.rl.chain.time_grid`. With the same noise and K, the deterministic chain reproduces
``SmolVLAPolicy.predict_action_chunk`` (tests/test_rl_smolvla.py checks it), so what RL optimises is what stock
``lerobot-eval`` runs. The language tokens' padding varies with the batch's longest instruction, so the cache is
right-padded (masked) to a fixed prefix length: contexts of different rollout steps stack into one buffer.

Pi0 (not built here): its state enters the *suffix*, so its prefix (images + language) is still cacheable with
a frozen VLM, and ``velocity`` would run its ``denoise_step`` with the state. The same protocol fits; LeRobot
0.4.4's pi0 cannot be built in this environment (it needs a transformers fork), see docs/rl.md.
"""

from __future__ import annotations

import inspect
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from so101_sim.rl.protocol import ChainSpec

log = logging.getLogger(__name__)

# The modules RL trains, as attribute paths under ``policy.model`` (VLAFlowMatching), in a fixed order.
TRAINABLE_MODULES = (
    "vlm_with_expert.lm_expert",
    "action_in_proj",
    "action_time_mlp_in",
    "action_time_mlp_out",
    "action_out_proj",
)
_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def _dtype(value: str | torch.dtype | None, what: str) -> torch.dtype | None:
    if value is None or isinstance(value, torch.dtype):
        return value
    if value not in _DTYPES:
        raise ValueError(f"{what} must be one of {sorted(_DTYPES)}, got {value!r}")
    return _DTYPES[value]


def _module(root: nn.Module, dotted: str) -> nn.Module:
    for name in dotted.split("."):
        root = getattr(root, name)
    return root


def _pad_seq(x: Tensor, length: int, dim: int = 1) -> Tensor:
    """Right-pad dimension ``dim`` of ``x`` with zeros to ``length``."""
    if x.shape[dim] == length:
        return x
    shape = list(x.shape)
    shape[dim] = length - x.shape[dim]
    return torch.cat([x, x.new_zeros(shape)], dim=dim)


class _PrefixCacheFace:
    """The one place the LeRobot lines differ: how SmolVLA's prefix KV cache is filled and handed back.

    LeRobot 0.4.x: ``vlm_with_expert.forward(..., fill_kv_cache=True)`` returns a dict ``{layer: {"key_states",
    "value_states"}}`` of (B, L, heads, dim) tensors that ``denoise_step`` only reads. LeRobot 0.6.x: the same call
    without ``fill_kv_cache`` returns a transformers ``DynamicCache`` of (B, heads, L, dim) tensors, which
    ``denoise_step`` extends and crops back in place; the adapter stores its tensors and gives every
    ``denoise_step`` a fresh ``DynamicCache`` holding copies, so the stored context is never touched either way.
    """

    def __init__(self, vlm_with_expert: nn.Module) -> None:
        self.dict_cache = "fill_kv_cache" in inspect.signature(vlm_with_expert.forward).parameters
        self.seq_dim = 1 if self.dict_cache else 2

    def fill(self, vlm_with_expert: nn.Module, **kwargs: Any) -> dict[int, dict[str, Tensor]]:
        if self.dict_cache:
            _, cache = vlm_with_expert.forward(**kwargs, use_cache=True, fill_kv_cache=True)
            return {int(i): dict(entry) for i, entry in cache.items()}
        _, cache = vlm_with_expert.forward(**kwargs, use_cache=True)
        return {i: {"key_states": layer.keys, "value_states": layer.values} for i, layer in enumerate(cache.layers)}

    def past(self, kv: dict[int, dict[str, Tensor]]) -> Any:
        if self.dict_cache:
            return kv
        from transformers import DynamicCache

        cache = DynamicCache()
        for i in sorted(kv):
            cache.update(kv[i]["key_states"], kv[i]["value_states"], i)  # copies (cat onto an empty tensor)
        return cache


class SmolVLAAdapter:
    """A SmolVLA / smolvla_tactile policy as a :class:`so101_sim.rl.protocol.FlowPolicyAdapter`.

    Build it with :meth:`from_pretrained` (a LeRobot ``pretrained_model`` directory holding the policy and its
    processors), or directly from a policy and its pre/post-processors.

    Args:
        policy: a ``SmolVLAPolicy`` (or subclass, e.g. ``SmolVLATactilePolicy``).
        preprocessor, postprocessor: the policy's LeRobot processor pipelines (normalisation, tokenizer).
        n_exec: chunk steps executed per decision (noise and log-prob only there); default the policy's
            ``n_action_steps``. The policy's ``n_action_steps`` is set to it, so the export executes the same.
        num_steps: denoising steps K of the chain; default the policy's ``num_steps``. Written into the exported
            config so that ``lerobot-eval`` integrates with the K that RL trained.
        device: where the policy runs (default: the config's device, else cuda when available).
        vlm_dtype: dtype of the frozen VLM / state projection ("float32" or "bfloat16"; default as loaded).
        expert_dtype: dtype of the trained expert and projections; keep float32 (bfloat16 exists to measure the
            drift it causes, benchmarks/bench_rl_smolvla.py). ``action_out_proj`` stays fp32 either way (stock
            up-casts the expert output before it).
        rename_map: observation renames applied by the preprocessor, as ``lerobot-eval --rename_map``
            (e.g. ``{"observation.environment_state": "observation.tactile.force_grid"}`` for smolvla_tactile).
        pad_prefix_to: fixed length of the cached prefix (default: the image tokens + ``tokenizer_max_length``
            language tokens + state and tactile tokens of this policy).
    """

    def __init__(
        self,
        policy: nn.Module,
        preprocessor: Any,
        postprocessor: Any,
        *,
        n_exec: int | None = None,
        num_steps: int | None = None,
        device: str | torch.device | None = None,
        vlm_dtype: str | torch.dtype | None = None,
        expert_dtype: str | torch.dtype = torch.float32,
        rename_map: dict[str, str] | None = None,
        pad_prefix_to: int | None = None,
        source_path: str | os.PathLike | None = None,
    ) -> None:
        from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy

        if not isinstance(policy, SmolVLAPolicy):
            raise TypeError(f"SmolVLAAdapter needs a SmolVLAPolicy (or subclass), got {type(policy).__name__}")
        cfg = policy.config
        if not cfg.use_cache:
            raise ValueError("SmolVLA config has use_cache=false; the adapter reuses the prefix KV cache (set it true)")
        if cfg.adapt_to_pi_aloha:
            raise ValueError("SmolVLA adapt_to_pi_aloha=true is not supported by the RL adapter (ALOHA-only option)")
        if cfg.rtc_config is not None and getattr(cfg.rtc_config, "enabled", False):
            raise ValueError("SmolVLA with real-time chunking (rtc_config.enabled) is not supported by the RL adapter")
        self.policy = policy
        self.preprocessor = preprocessor
        self.postprocessor = postprocessor
        self.rename_map = dict(rename_map or {})
        self.source_path = Path(source_path) if source_path is not None else None
        self._device = torch.device(device or cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))

        n_exec = int(n_exec if n_exec is not None else cfg.n_action_steps)
        if not 1 <= n_exec <= cfg.chunk_size:
            raise ValueError(f"n_exec must be in [1, chunk_size={cfg.chunk_size}], got {n_exec}")
        cfg.n_action_steps = n_exec
        if num_steps is not None:
            if int(num_steps) < 1:
                raise ValueError(f"num_steps (K) must be >= 1, got {num_steps}")
            cfg.num_steps = int(num_steps)
        real_dims = int(cfg.action_feature.shape[0])
        self.spec = ChainSpec(
            horizon=cfg.chunk_size,
            action_dim=cfg.max_action_dim,
            n_exec=n_exec,
            real_dims=real_dims,
            time_direction="reverse",
        )
        model = policy.model
        self.feature_dim = int(model.vlm_with_expert.expert_hidden_size)
        self._cache_face = _PrefixCacheFace(model.vlm_with_expert)

        # Freeze everything, then re-enable the trained modules (fp32 unless told otherwise).
        policy.to(self._device)
        policy.requires_grad_(False)
        self._vlm_dtype = _dtype(vlm_dtype, "vlm_dtype")
        if self._vlm_dtype is not None:
            model.vlm_with_expert.vlm.to(self._vlm_dtype)
            model.state_proj.to(self._vlm_dtype)
        expert_dtype = _dtype(expert_dtype, "expert_dtype")
        self._trainable: list[nn.Parameter] = []
        for name in TRAINABLE_MODULES:
            module = _module(model, name)
            module.to(torch.float32 if name == "action_out_proj" else expert_dtype)
            for p in module.parameters():
                p.requires_grad_(True)
                self._trainable.append(p)
        self._cast_frozen = self._vlm_dtype is not None
        self.set_eval()

        tokens_per_image = self._tokens_per_image()
        n_images = len(cfg.image_features)  # includes the empty_camera_i placeholders validate_features adds
        extra = (
            int(getattr(getattr(model, "tactile_embedding", None), "num_tokens", 0))
            if getattr(cfg, "use_tactile", False)
            else 0
        )
        default_len = n_images * tokens_per_image + cfg.tokenizer_max_length + 1 + extra
        self.prefix_length = int(pad_prefix_to or max(default_len, cfg.prefix_length))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        device: str | torch.device | None = None,
        rename_map: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> SmolVLAAdapter:
        """Load a ``smolvla`` / ``smolvla_tactile`` checkpoint directory with its processors (offline)."""
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors
        from lerobot.utils.import_utils import register_third_party_plugins

        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path / 'config.json'} not found: expected a LeRobot pretrained_model directory")
        register_third_party_plugins()  # makes "smolvla_tactile" (plugin) resolvable, as lerobot-eval does
        cfg = PreTrainedConfig.from_pretrained(path)
        if cfg.type not in ("smolvla", "smolvla_tactile"):
            raise ValueError(f"{path}: policy type {cfg.type!r} is not smolvla / smolvla_tactile")
        dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        cfg.device = dev.type
        if rename_map is None and getattr(cfg, "use_tactile", False):
            # The sim delivers the taxel grid as environment_state (env option environment_state=tactile).
            rename_map = {"observation.environment_state": cfg.tactile_key}
        policy = get_policy_class(cfg.type).from_pretrained(path, config=cfg)
        pre, post = make_pre_post_processors(
            cfg,
            pretrained_path=str(path),
            preprocessor_overrides={
                "device_processor": {"device": str(dev)},
                "rename_observations_processor": {"rename_map": dict(rename_map or {})},
            },
        )
        return cls(policy, pre, post, device=dev, rename_map=rename_map, source_path=path, **kwargs)

    def _tokens_per_image(self) -> int:
        """Prefix tokens one camera contributes (probed once with a blank image at the policy's input size)."""
        cfg, model = self.policy.config, self.policy.model
        size = cfg.resize_imgs_with_padding or next(iter(cfg.image_features.values())).shape[1:]
        vision = model.vlm_with_expert.get_vlm_model().vision_model
        with torch.no_grad():
            probe = torch.zeros(1, 3, *size, device=self._device, dtype=next(vision.parameters()).dtype)
            n = model.vlm_with_expert.embed_image(probe).shape[1]
        return int(n) + (3 if cfg.add_image_special_tokens else 0)

    # ------------------------------------------------------------------ protocol
    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """Options of the so101 sim env (``gym.make`` keywords) that produce the observations this policy reads:
        its cameras at their feature sizes and, for smolvla_tactile with touch on, the taxel grid as
        ``environment_state`` (renamed to the tactile key by the preprocessor, as ``lerobot-eval --rename_map``)."""
        cfg = self.policy.config
        prefix = "observation.images."
        cams = {k[len(prefix):]: tuple(f.shape[1:]) for k, f in cfg.image_features.items()
                if k.startswith(prefix) and not k[len(prefix):].startswith("empty_camera")}  # fmt: skip
        kwargs: dict[str, Any] = {"cameras": tuple(cams), "image_size": cams}
        if getattr(cfg, "use_tactile", False):
            kwargs.update(tactile=True, environment_state="tactile", tactile_grid=tuple(cfg.tactile_grid_shape[1:3]))
        return kwargs

    @property
    def num_steps(self) -> int:
        """K the exported policy integrates with (``config.num_steps``)."""
        return int(self.policy.config.num_steps)

    def set_eval(self) -> None:
        """Eval mode everywhere (no dropout): sampling, re-scoring and the gradient step all run in it."""
        self.policy.eval()

    def trainable_parameters(self) -> list[nn.Parameter]:
        return list(self._trainable)

    def preprocess(self, obs: dict[str, Any], tasks: list[str]) -> dict[str, Tensor]:
        """Raw vector-env observation -> the policy's normalised batch, as ``lerobot-eval`` builds it."""
        from lerobot.envs.utils import preprocess_observation

        batch = preprocess_observation(obs)
        n = next(iter(batch.values())).shape[0]
        if len(tasks) != n:
            raise ValueError(f"got {len(tasks)} task strings for a batch of {n} observations")
        batch["task"] = list(tasks)
        return self.preprocessor(batch)

    @torch.no_grad()
    def encode(self, obs: dict[str, Any], tasks: list[str]) -> dict[str, Any]:
        """Prefix KV cache of one batch of env observations (once per observation, no autograd history)."""
        return self.encode_batch(self.preprocess(obs, tasks))

    @torch.no_grad()
    def encode_batch(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        """Prefix KV cache of an already pre-processed batch (what ``policy.predict_action_chunk`` receives).

        Returns ``{"kv": {layer: {"key_states", "value_states"}}, "prefix_pad_mask": (B, L)}``, every leaf
        batch-first and padded (masked) to :attr:`prefix_length` tokens.
        """
        from lerobot.policies.smolvla.modeling_smolvla import make_att_2d_masks
        from lerobot.utils.constants import OBS_LANGUAGE_ATTENTION_MASK, OBS_LANGUAGE_TOKENS

        policy, model = self.policy, self.policy.model
        images, img_masks = policy.prepare_images(batch)
        state = policy.prepare_state(batch).to(model.state_proj.weight.dtype)
        with self._prefix_inputs(batch):
            embs, pad_masks, att_masks = model.embed_prefix(
                images, img_masks, batch[OBS_LANGUAGE_TOKENS], batch[OBS_LANGUAGE_ATTENTION_MASK], state=state
            )
        att_2d = make_att_2d_masks(pad_masks, att_masks)
        position_ids = torch.cumsum(pad_masks, dim=1) - 1
        cache = self._cache_face.fill(
            model.vlm_with_expert,
            attention_mask=att_2d,
            position_ids=position_ids,
            past_key_values=None,
            inputs_embeds=[embs, None],
        )
        length = pad_masks.shape[1]
        if length > self.prefix_length:
            raise ValueError(
                f"prefix of {length} tokens is longer than the cache length {self.prefix_length} "
                "(language longer than tokenizer_max_length?); pass pad_prefix_to= a larger value"
            )
        kv = {
            layer: {
                name: _pad_seq(t, self.prefix_length, self._cache_face.seq_dim).contiguous()
                for name, t in entry.items()
            }
            for layer, entry in cache.items()
        }
        return {"kv": kv, "prefix_pad_mask": _pad_seq(pad_masks, self.prefix_length).contiguous()}

    def velocity(self, ctx: dict[str, Any], x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """SmolVLA's own ``denoise_step`` on the cached prefix; features = the expert's output tokens."""
        model = self.policy.model
        captured: list[Tensor] = []
        hook = model.action_out_proj.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
        try:
            v = model.denoise_step(
                prefix_pad_masks=ctx["prefix_pad_mask"],
                past_key_values=self._cache_face.past(ctx["kv"]),
                x_t=x.to(model.action_in_proj.weight.dtype),
                timestep=t.to(torch.float32),
            )
        finally:
            hook.remove()
        if len(captured) != 1:
            raise RuntimeError(f"expected one action_out_proj call per denoise_step, saw {len(captured)}")
        return v.to(x.dtype), captured[0]

    @torch.no_grad()
    def to_env_actions(self, x: Tensor) -> np.ndarray:
        """The executed part of a normalised chunk (B, H, D) in env units (B, n_exec, A), via the postprocessor."""
        executed = x[:, : self.spec.n_exec, : self.spec.real_dims].float()
        return self.postprocessor(executed).cpu().numpy()

    def export(self, path: str | os.PathLike, denoise_steps: int | None = None) -> Path:
        """Save an ordinary ``smolvla`` / ``smolvla_tactile`` checkpoint (policy + processors) at ``path``.

        ``denoise_steps``: K written as ``num_steps`` (default: the K given at construction, else the policy's).
        The config's ``n_action_steps`` is ``n_exec``: ``lerobot-eval`` then executes what RL trained.

        Written to a temporary sibling and moved into place; an existing ``path`` is replaced only once the new
        checkpoint is complete. Frozen weights that were cast to bf16 for speed are written from the source
        checkpoint unrounded.
        """
        if denoise_steps is not None:
            if int(denoise_steps) < 1:
                raise ValueError(f"denoise_steps (K) must be >= 1, got {denoise_steps}")
            self.policy.config.num_steps = int(denoise_steps)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            with self._export_dtypes():
                self.policy.save_pretrained(staging)
            self.preprocessor.save_pretrained(staging)
            self.postprocessor.save_pretrained(staging)
            if self._cast_frozen:
                self._restore_frozen_weights(staging / "model.safetensors")
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                path.rename(old)
                staging.rename(path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                staging.rename(path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return path

    # ------------------------------------------------------------------ helpers
    @contextmanager
    def _prefix_inputs(self, batch: dict[str, Tensor]) -> Iterator[None]:
        """Inputs a SmolVLA subclass reads into its prefix besides images/language/state (smolvla_tactile's touch)."""
        model = self.policy.model
        if getattr(self.policy.config, "use_tactile", False) and hasattr(model, "tactile_input"):
            grid = self._tactile_grid(batch)
            with model.tactile_input(grid.to(next(model.tactile_embedding.parameters()).dtype)):
                yield
        else:
            with nullcontext():
                yield

    def _tactile_grid(self, batch: dict[str, Tensor]) -> Tensor:
        cfg = self.policy.config
        key, expected = cfg.tactile_key, tuple(cfg.tactile_grid_shape)
        if key not in batch:
            raise KeyError(
                f"smolvla_tactile with use_tactile=true but the batch has no '{key}' (keys: {sorted(batch)}); "
                f"pass rename_map={{'observation.environment_state': '{key}'}} as for lerobot-eval --rename_map"
            )
        grid = batch[key]
        if grid.ndim == len(expected) + 2:  # (B, n_obs_steps, ...) from a training batch
            grid = grid[:, -1]
        if tuple(grid.shape[1:]) != expected:
            raise ValueError(
                f"'{key}' has shape {tuple(batch[key].shape)}; expected (B, {', '.join(map(str, expected))})"
            )
        return grid

    @contextmanager
    def _export_dtypes(self) -> Iterator[None]:
        """Save trained modules in fp32 even when a bf16 expert was used for a measurement."""
        model = self.policy.model
        dtypes = {name: next(_module(model, name).parameters()).dtype for name in TRAINABLE_MODULES}
        try:
            for name in TRAINABLE_MODULES:
                _module(model, name).to(torch.float32)
            yield
        finally:
            for name, dtype in dtypes.items():
                _module(model, name).to(dtype)

    def _restore_frozen_weights(self, file: Path) -> None:
        from safetensors.torch import load_file, save_file

        if self.source_path is None or not (self.source_path / "model.safetensors").is_file():
            log.warning(
                "frozen weights were cast to %s and no source checkpoint is known: exported as cast", self._vlm_dtype
            )
            return
        source = load_file(str(self.source_path / "model.safetensors"))
        trained = {id(p) for p in self._trainable}
        trained_names = {n for n, p in self.policy.named_parameters() if id(p) in trained}
        saved = load_file(str(file))
        for key in saved:
            if key not in trained_names and key in source:
                saved[key] = source[key]
        save_file(saved, str(file), metadata={"format": "pt"})
