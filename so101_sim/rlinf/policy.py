"""Our flow-matching policies (``flow_mlp``, SmolVLA) as RLinf model types, with ReinFlow's noisy chain.

Registered by :func:`so101_sim.rlinf.ext.register` as ``so101_flow_noise`` (any checkpoint the RL core has an
adapter for; :func:`so101_sim.rl.adapters.load_adapter` picks by its ``type``). The model is a thin RLinf face
over the single-machine RL core: the adapter (:mod:`so101_sim.rl.adapters`) and the chain + noise head
(:class:`so101_sim.rl.chain.ReinFlowChain`); nothing of the chain is re-implemented here.

RLinf calls:

``predict_action_batch(env_obs, do_sample=..., ...)`` (rollout worker)
    A custom model type receives only ``rollout.sampling_params``; ``do_sample`` (default true) switches between
    the noisy chain and the deterministic ODE the exported checkpoint runs. Returns ``actions [B, n_exec, 6]``
    (LeRobot units), ``prev_logprobs [B, n_exec * 6]`` (per executed coordinate, summed over the K denoising
    transitions: RLinf's ``logprob_type: token_level`` makes one PPO ratio per coordinate), ``prev_values
    [B, 1]`` and ``forward_inputs`` (the chain ``[B, K+1, H, D]`` plus the observation tensors the policy reads).
``forward(forward_inputs=..., compute_logprobs, compute_entropy, compute_values)`` (actor worker)
    Re-encodes the stored observations (the encoder is frozen), re-scores the stored chain with the same code
    that sampled it (ratio 1 before the first update) and returns ``logprobs``/``entropy`` ``[B, n_exec * 6]``
    and ``values [B, 1]``.

The value head (``value_head``, so RLinf's optimizer gives it ``optim.value_lr``) reads the policy's normalised
state: ``observation.state`` and, when the policy reads it, ``observation.environment_state``.

Model config (``actor.model``)::

    model_type: so101_flow_noise
    model_path: <LeRobot pretrained_model dir>    # flow_mlp, smolvla or smolvla_tactile
    action_dim: 6                                 # must equal the policy's real action width
    num_action_chunks: 10                         # n_exec: chunk steps executed per decision
    denoise_steps: 4                              # K
    sigma: {mode: learned, min: 0.05, max: 0.15}  # noise head bounds (normalised action units)
    task_description: "Pick up the red cube."     # the instruction the policy is conditioned on
    lerobot_obs:                                  # RLinf observation -> the policy's LeRobot observation
      agent_pos: [0, 6]                           #   slices of ``states``
      environment_state: [6, 19]
      pixels: {camera1: main_images, camera2: wrist_images, camera3: extra_view_images.0}
    add_value_head: true
    value_hidden: [256, 256]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from rlinf.models.embodiment.base_policy import BasePolicy, ForwardType
from rlinf.models.embodiment.modules.value_head import ValueHead
from torch import Tensor, nn

from so101_sim.rl.chain import ReinFlowChain, SigmaSchedule
from so101_sim.rlinf.mapping import MappingError, _plain

MODEL_TYPE = "so101_flow_noise"
IMAGE_KEYS = ("main_images", "wrist_images", "extra_view_images")


class LeRobotObsMap:
    """``lerobot_obs``: which RLinf observation tensors make up the policy's raw LeRobot observation."""

    def __init__(self, spec: Any, where: str = "actor.model.lerobot_obs") -> None:
        spec = _plain(spec) or {}
        if not isinstance(spec, Mapping) or "agent_pos" not in spec:
            raise MappingError(f"{where} must map at least agent_pos: [start, end] (a slice of states), got {spec!r}")
        unknown = sorted(set(spec) - {"agent_pos", "environment_state", "pixels"})
        if unknown:
            raise MappingError(f"{where}: unknown keys {unknown}; expected agent_pos, environment_state, pixels")
        self.slices = {k: tuple(int(v) for v in spec[k]) for k in ("agent_pos", "environment_state") if spec.get(k)}
        for k, s in self.slices.items():
            if len(s) != 2 or not 0 <= s[0] < s[1]:
                raise MappingError(f"{where}.{k}: expected [start, end] with 0 <= start < end, got {list(s)}")
        self.pixels: dict[str, tuple[str, int | None]] = {}
        for cam, src in (spec.get("pixels") or {}).items():
            key, _, idx = str(src).partition(".")
            if key not in IMAGE_KEYS or (idx and key != "extra_view_images"):
                raise MappingError(f"{where}.pixels.{cam}: {src!r} is not one of {IMAGE_KEYS} (extra_view_images.<i>)")
            self.pixels[cam] = (key, int(idx) if idx else None)

    def tensor_keys(self) -> list[str]:
        return ["states", *sorted({k for k, _ in self.pixels.values()})]

    def raw_obs(self, env_obs: Mapping[str, Any]) -> dict[str, Any]:
        """The policy's raw observation (numpy on CPU, as our vector env returns it) from RLinf tensors."""
        states = env_obs.get("states")
        if states is None:
            raise MappingError("the RLinf observation has no 'states' (map them in env.*.isaaclab.states)")
        out: dict[str, Any] = {}
        for k, (lo, hi) in self.slices.items():
            if hi > states.shape[-1]:
                raise MappingError(f"lerobot_obs.{k}: slice [{lo}, {hi}] exceeds states width {states.shape[-1]}")
            out[k] = states[:, lo:hi].float().cpu().numpy()
        if self.pixels:
            out["pixels"] = {}
            for cam, (key, idx) in self.pixels.items():
                x = env_obs.get(key)
                if x is None:
                    raise MappingError(f"lerobot_obs.pixels.{cam}: the RLinf observation has no {key!r}")
                out["pixels"][cam] = (x[:, idx] if idx is not None else x).cpu().numpy()
        return out


class FlowNoisePolicy(nn.Module, BasePolicy):
    """RLinf model over a ReinFlow adapter + chain (see the module docstring)."""

    def __init__(self, adapter, chain: ReinFlowChain, obs_map: LeRobotObsMap, task: str,
                 value_hidden: tuple[int, ...] = (256, 256), add_value_head: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.adapter = adapter
        self.policy = adapter.policy  # registered: .to(), state_dict, FSDP and the optimizer see it
        self.chain = chain
        self.obs_map = obs_map
        self.task = task
        self.spec = adapter.spec
        self.num_action_chunks = self.spec.n_exec
        self.action_dim = self.spec.real_dims
        self._mask = chain.mask.bool()
        trainable = {id(p) for p in adapter.trainable_parameters()}
        for p in self.policy.parameters():  # RL trains exactly what the adapter says; the rest is frozen
            p.requires_grad_(id(p) in trainable)
        self.value_dim = self._value_width()
        if add_value_head:
            self.value_head = ValueHead(self.value_dim, hidden_sizes=tuple(value_hidden), activation="tanh")
        self.total_steps = 1

    # ------------------------------------------------------------------ observation path
    def _batch(self, raw: dict[str, Any]) -> tuple[dict[str, Tensor], Any]:
        """(normalised LeRobot batch, frozen context) of one batch of raw observations."""
        tasks = [self.task] * len(raw["agent_pos"])
        with torch.no_grad():
            if hasattr(self.adapter, "encode_batch"):  # SmolVLA: preprocess once, encode from that batch
                batch = self.adapter.preprocess(raw, tasks)
                return batch, self.adapter.encode_batch(batch)
            from lerobot.envs.utils import preprocess_observation

            batch = preprocess_observation(raw)
            batch["task"] = tasks
            return self.adapter.preprocessor(batch), self.adapter.encode(raw, tasks)

    def _value_input(self, batch: dict[str, Tensor]) -> Tensor:
        parts = [batch["observation.state"].float()]
        if "observation.environment_state" in self.policy.config.input_features:
            parts.append(batch["observation.environment_state"].float())
        return torch.cat([p.flatten(1) for p in parts], dim=-1)

    def _value_width(self) -> int:
        feats = self.policy.config.input_features
        width = int(feats["observation.state"].shape[0])
        if "observation.environment_state" in feats:
            width += int(torch.Size(feats["observation.environment_state"].shape).numel())
        return width

    def _check_tasks(self, env_obs: Mapping[str, Any]) -> None:
        tasks = env_obs.get("task_descriptions")
        if tasks and any(t != self.task for t in tasks):
            raise ValueError(
                f"the env's instruction {sorted(set(tasks))} differs from actor.model.task_description {self.task!r}: "
                "set them equal (the policy is conditioned on the model's)"
            )

    def _per_coordinate(self, x: Tensor) -> Tensor:
        """(B, K, H, D) per-entry terms -> (B, n_exec * real_dims), summed over the K transitions."""
        return x.sum(1)[:, self._mask].reshape(x.shape[0], -1)

    # ------------------------------------------------------------------ RLinf API
    def set_global_step(self, step: int) -> None:
        self.chain.set_progress(min(1.0, step / max(1, self.total_steps)))

    @torch.no_grad()
    def predict_action_batch(self, env_obs, do_sample: bool = True, mode: str | None = None, **kwargs):
        self._check_tasks(env_obs)
        raw = self.obs_map.raw_obs(env_obs)
        batch, ctx = self._batch(raw)
        n = len(raw["agent_pos"])
        deterministic = (not do_sample) or mode == "eval"
        sample = self.chain.sample(self.adapter, ctx, n, deterministic=deterministic)
        actions = torch.as_tensor(self.adapter.to_env_actions(sample.action), dtype=torch.float32)
        values = (
            self.value_head(self._value_input(batch)).float()
            if hasattr(self, "value_head")
            else torch.zeros(n, 1, device=sample.chain.device)
        )
        forward_inputs = {"chain": sample.chain}
        for key in self.obs_map.tensor_keys():
            forward_inputs[key] = env_obs[key]
        result = {
            "prev_logprobs": self._per_coordinate(sample.logp).float(),
            "prev_values": values,
            "forward_inputs": forward_inputs,
        }
        return actions.cpu(), result

    def default_forward(self, forward_inputs, compute_logprobs: bool = True, compute_entropy: bool = False,
                        compute_values: bool = True, **kwargs) -> dict[str, Tensor]:  # fmt: skip
        raw = self.obs_map.raw_obs(forward_inputs)
        batch, ctx = self._batch(raw)
        out: dict[str, Tensor] = {}
        if compute_logprobs or compute_entropy:
            chain = forward_inputs["chain"].to(self.adapter.device)
            score = self.chain.score(self.adapter, ctx, chain)
            if compute_logprobs:
                out["logprobs"] = self._per_coordinate(score.logp)
            if compute_entropy:
                out["entropy"] = self._per_coordinate(score.entropy)
        if compute_values:
            if not hasattr(self, "value_head"):
                raise ValueError("compute_values needs actor.model.add_value_head: true")
            out["values"] = self.value_head(self._value_input(batch))
        return out

    def forward(self, forward_type=ForwardType.DEFAULT, **kwargs):
        if forward_type != ForwardType.DEFAULT:
            raise NotImplementedError(f"{MODEL_TYPE} supports PPO/GRPO (default forward), not {forward_type}")
        return self.default_forward(**kwargs)

    def export(self, path: str) -> None:
        """An ordinary LeRobot checkpoint of the policy's own type (stock ``lerobot-eval`` loads it)."""
        if hasattr(self.adapter, "export"):
            try:
                self.adapter.export(path, denoise_steps=self.chain.k_steps)
            except TypeError:
                self.adapter.export(path)


def build(cfg, torch_dtype=None) -> FlowNoisePolicy:
    """RLinf model builder for ``so101_flow_noise`` (``cfg`` = ``actor.model`` or ``rollout.model``)."""
    from so101_sim.rl.adapters import load_adapter

    path = str(cfg.get("model_path") or "")
    if not path:
        raise ValueError(f"{MODEL_TYPE}: actor.model.model_path must be a LeRobot pretrained_model directory")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    n_exec = int(cfg.num_action_chunks)
    adapter = load_adapter(path, device=device, n_exec=n_exec)
    adapter.set_eval()
    if int(cfg.action_dim) != adapter.spec.real_dims:
        raise ValueError(
            f"{MODEL_TYPE}: actor.model.action_dim={cfg.action_dim} but {path} acts in {adapter.spec.real_dims} dims"
        )
    sig = cfg.get("sigma") or {}
    chain = ReinFlowChain(
        adapter.spec, adapter.feature_dim, k_steps=int(cfg.get("denoise_steps", 4)),
        sigma=SigmaSchedule(str(sig.get("mode", "learned")), float(sig.get("min", 0.05)), float(sig.get("max", 0.15))),
    ).to(device)  # fmt: skip
    task = str(cfg.get("task_description") or "")
    if not task:
        raise ValueError(f"{MODEL_TYPE}: actor.model.task_description must be the env's instruction")
    model = FlowNoisePolicy(
        adapter, chain, LeRobotObsMap(cfg.get("lerobot_obs")), task,
        value_hidden=tuple(int(h) for h in cfg.get("value_hidden", (256, 256))),
        add_value_head=bool(cfg.get("add_value_head", True)),
    )  # fmt: skip
    model.total_steps = int(cfg.get("sigma_total_steps", 1) or 1)
    return model.to(device)
