"""SmolVLATactilePolicy: stock SmolVLA (subclassed, not copied) with touch tokens and arm/hand heads.

What changes relative to stock SmolVLA 0.4.4, and where:

- ``TactileVLAFlowMatching.embed_prefix``: after stock's prefix (images, language, state token) it appends the
  TactileEmbedding tokens in the state token's attention block (att mask 0 after the state's 1): state and
  touch see each other and the images/language, images and language cannot see them.
- ``ArmHandEnhancedHead`` replaces ``action_out_proj``. It *is* the main head H_main (an ``nn.Linear`` with the
  same weights, so a stock checkpoint's head loads into it) applied to h + E_arm(h) + E_hand(h), where h is the
  action expert's hidden state. The auxiliary heads H_arm(h + E_arm(h)) and H_hand(h + E_hand(h)) predict the
  flow-matching velocity of the arm and hand action indices only. E_arm/E_hand end in zero-initialised layers,
  so at initialisation the main output equals the stock head's.
- ``SmolVLATactilePolicy.forward``: L_total = L_main + aux_loss_lambda * (L_arm + L_hand)
  [+ tactile_recon_loss_weight * L_recon]; each term is in the returned loss dict, which lerobot-train logs.
  It also fixes stock 0.4.4's pad-key typo (lerobot#1707: stock reads ``actions_id_pad``, which never exists,
  so padded steps past an episode's end were trained): the batch's ``action_is_pad`` is handed to stock's
  masking. Masked steps count as zeros in the mean, stock's convention, used for the auxiliary losses too.

With ``use_tactile=False`` and the enhancement off, the modules and the computation are exactly stock SmolVLA's
(the only difference is the pad fix, which changes nothing for batches without padded steps).
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.policies.rtc.modeling_rtc import RTCProcessor
from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy, VLAFlowMatching, pad_tensor
from lerobot.utils.constants import ACTION
from torch import Tensor, nn

from .configuration_smolvla_tactile import SmolVLATactileConfig
from .tactile_embedding import TactileEmbedding

logger = logging.getLogger(__name__)

ACTION_IS_PAD = f"{ACTION}_is_pad"
_STOCK_PAD_KEY = "actions_id_pad"  # the key stock SmolVLA 0.4.4 reads (a typo of ACTION_IS_PAD)
_LOADING_SAVED_POLICY = contextvars.ContextVar("smolvla_tactile_loading_saved_policy", default=False)


class MissingTactileInputError(KeyError):
    """The batch lacks the tactile key while use_tactile=true (a KeyError with a readable message)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ArmHandEnhancedHead(nn.Linear):
    """H_main (this Linear) over h + E_arm(h) + E_hand(h), with auxiliary heads H_arm and H_hand.

    E_arm and E_hand are independent two-layer MLPs (Linear, SiLU, Linear without bias: the heads' biases
    absorb a constant), stored block-wise so that their sum, all the main head needs, costs one matmul per
    layer: ``e_in`` stacks both first layers (rows ``[:hidden]`` are E_arm's, ``[hidden:]`` E_hand's) and
    ``e_out`` both second layers (columns ``[:hidden]`` E_arm's). ``e_out`` starts at zero, so the head starts
    out equal to a plain linear head (a stock checkpoint's ``action_out_proj``).

    Auxiliary predictions are computed only while ``collect_aux`` is set (training forward) and are left in
    ``aux`` for the caller to pick up; inference runs the main path alone.
    """

    def __init__(self, in_features: int, out_features: int, n_arm: int, n_hand: int, hidden_dim: int):
        super().__init__(in_features, out_features)
        self.hidden_dim = hidden_dim
        self.e_in = nn.Linear(in_features, 2 * hidden_dim)
        self.e_out = nn.Linear(2 * hidden_dim, in_features, bias=False)
        nn.init.zeros_(self.e_out.weight)
        self.h_arm = nn.Linear(in_features, n_arm)
        self.h_hand = nn.Linear(in_features, n_hand)
        self.collect_aux = False
        self.aux: tuple[Tensor, Tensor] | None = None

    def branch_features(self, hidden: Tensor) -> tuple[Tensor, Tensor]:
        """E_arm(h), E_hand(h) separately."""
        act_arm, act_hand = F.silu(self.e_in(hidden)).split(self.hidden_dim, dim=-1)
        w_arm, w_hand = self.e_out.weight.split(self.hidden_dim, dim=1)
        return F.linear(act_arm, w_arm), F.linear(act_hand, w_hand)

    def forward(self, hidden: Tensor) -> Tensor:
        if self.collect_aux:
            f_arm, f_hand = self.branch_features(hidden)
            self.aux = (self.h_arm(hidden + f_arm), self.h_hand(hidden + f_hand))
            return super().forward(hidden + f_arm + f_hand)
        flat = hidden.reshape(-1, hidden.shape[-1])
        act = F.silu(self.e_in(flat))
        enhanced = torch.addmm(flat, act, self.e_out.weight.t())  # h + E_arm(h) + E_hand(h) in one matmul
        return super().forward(enhanced.view(hidden.shape))


class TactileVLAFlowMatching(VLAFlowMatching):
    def __init__(self, config: SmolVLATactileConfig, rtc_processor: RTCProcessor | None = None):
        super().__init__(config, rtc_processor=rtc_processor)
        self._tactile: Tensor | None = None
        self._collect_aux = False
        self._recon_loss: Tensor | None = None
        self.last_aux_losses: dict[str, Tensor] = {}
        if config.use_tactile:
            self.tactile_embedding = TactileEmbedding(
                config.tactile_grid_shape,
                self.vlm_with_expert.config.text_config.hidden_size,
                config.tactile_tokenization,
                with_decoder=config.tactile_recon_loss_weight > 0,
            )
        if config.use_arm_hand_feature_enhancement:
            width = self.vlm_with_expert.expert_hidden_size
            self.action_out_proj = ArmHandEnhancedHead(
                width,
                config.max_action_dim,
                len(config.arm_indices),
                len(config.hand_indices),
                config.arm_hand_hidden_dim if config.arm_hand_hidden_dim > 0 else width,
            )
            # Index sets as buffers: they follow .to(device), so no host-to-device copy per step.
            self.register_buffer("arm_index", torch.tensor(config.arm_indices, dtype=torch.long), persistent=False)
            self.register_buffer("hand_index", torch.tensor(config.hand_indices, dtype=torch.long), persistent=False)

    @contextmanager
    def tactile_input(self, tactile: Tensor | None) -> Iterator[None]:
        """Make ``tactile`` (B, N, R, C, 3) visible to embed_prefix for the calls inside the block."""
        previous, self._tactile = self._tactile, tactile
        try:
            yield
        finally:
            self._tactile = previous

    def embed_prefix(self, images, img_masks, lang_tokens, lang_masks, state: Tensor = None):
        if not self.config.use_tactile:
            return super().embed_prefix(images, img_masks, lang_tokens, lang_masks, state=state)
        if self._tactile is None:
            raise RuntimeError(
                "use_tactile=true but no tactile input was set; call the model through SmolVLATactilePolicy "
                "(forward / select_action / predict_action_chunk), which reads it from the batch"
            )
        # Stock pads to prefix_length after the state token; append touch first, then pad.
        prefix_length, self.prefix_length = self.prefix_length, -1
        try:
            embs, pad_masks, att_masks = super().embed_prefix(images, img_masks, lang_tokens, lang_masks, state=state)
        finally:
            self.prefix_length = prefix_length
        out = self.tactile_embedding(self._tactile, compute_recon=self._collect_aux)
        self._recon_loss = out.recon_loss
        tokens = out.tokens.to(dtype=embs.dtype)
        bsize, n_tok = tokens.shape[:2]
        embs = torch.cat([embs, tokens], dim=1)
        pad_masks = torch.cat([pad_masks, torch.ones(bsize, n_tok, dtype=pad_masks.dtype, device=pad_masks.device)], 1)
        # 0: same attention block as the state token that precedes them.
        att_masks = torch.cat([att_masks, torch.zeros(bsize, n_tok, dtype=att_masks.dtype, device=att_masks.device)], 1)
        if embs.shape[1] < self.prefix_length:
            embs = pad_tensor(embs, self.prefix_length, pad_value=0)
            pad_masks = pad_tensor(pad_masks, self.prefix_length, pad_value=0)
            att_masks = pad_tensor(att_masks, self.prefix_length, pad_value=0)
        return embs, pad_masks, att_masks

    def forward(self, images, img_masks, lang_tokens, lang_masks, state, actions, noise=None, time=None) -> Tensor:
        """Stock flow-matching loss (B, T, max_action_dim); auxiliary element losses go to ``last_aux_losses``.

        Noise and time are drawn here in stock's order (noise, then time) so that seeded runs match stock.
        """
        if noise is None:
            noise = self.sample_noise(actions.shape, actions.device)
        if time is None:
            time = self.sample_time(actions.shape[0], actions.device)
        head = self.action_out_proj if isinstance(self.action_out_proj, ArmHandEnhancedHead) else None
        self._collect_aux = True
        self._recon_loss = None
        if head is not None:
            head.collect_aux, head.aux = True, None
        try:
            losses = super().forward(images, img_masks, lang_tokens, lang_masks, state, actions, noise, time)
        finally:
            self._collect_aux = False
            if head is not None:
                head.collect_aux = False
        aux: dict[str, Tensor] = {}
        if head is not None:
            v_arm, v_hand = head.aux
            head.aux = None
            u_t = noise - actions
            aux["arm"] = F.mse_loss(v_arm.float(), u_t.index_select(-1, self.arm_index), reduction="none")
            aux["hand"] = F.mse_loss(v_hand.float(), u_t.index_select(-1, self.hand_index), reduction="none")
        if self._recon_loss is not None:
            aux["recon"] = self._recon_loss
            self._recon_loss = None
        self.last_aux_losses = aux
        return losses


def _check_tactile_stats(config: SmolVLATactileConfig, dataset_stats: dict | None) -> None:
    """Refuse to train on a tactile feature the pre-processor would pass through un-normalised."""
    if not config.use_tactile or dataset_stats is None:
        return
    stats = dataset_stats.get(config.tactile_key)
    if stats is None or "mean" not in stats or "std" not in stats:
        raise ValueError(
            f"use_tactile=true but the dataset stats have no mean/std for '{config.tactile_key}' "
            f"(stats keys: {sorted(dataset_stats)}); the tactile grid would reach the policy un-normalised"
        )


class SmolVLATactilePolicy(SmolVLAPolicy):
    config_class = SmolVLATactileConfig
    name = "smolvla_tactile"

    def __init__(self, config: SmolVLATactileConfig, **kwargs):
        # SmolVLAPolicy.__init__ is these five steps with the stock VLAFlowMatching; calling it and then
        # replacing self.model would build the whole VLM twice, so the steps are repeated with the subclass.
        PreTrainedPolicy.__init__(self, config)
        config.validate_features()
        self.config = config
        self.init_rtc_processor()
        self.model = TactileVLAFlowMatching(config, rtc_processor=self.rtc_processor)
        self.reset()
        _check_tactile_stats(config, kwargs.get("dataset_stats"))
        if config.init_from and not _LOADING_SAVED_POLICY.get():
            self.load_init_checkpoint(config.init_from)

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """Load a saved smolvla_tactile policy; its own weights win, so ``init_from`` is not re-applied."""
        token = _LOADING_SAVED_POLICY.set(True)
        try:
            return super().from_pretrained(*args, **kwargs)
        finally:
            _LOADING_SAVED_POLICY.reset(token)

    # ------------------------------------------------------------------------------------------------------
    def load_init_checkpoint(self, source: str | os.PathLike) -> dict[str, list[str]]:
        """Load matching weights of a SmolVLA / smolvla_tactile checkpoint; everything else keeps its init.

        ``source``: a directory with ``model.safetensors``, the file itself, or a Hub repo id (read through the
        Hugging Face cache). Returns the loaded and the fresh (not in the checkpoint) parameter names.
        """
        from safetensors.torch import load_file

        path = Path(source)
        if path.is_dir():
            path = path / "model.safetensors"
        elif not path.is_file():
            from huggingface_hub import hf_hub_download

            try:
                path = Path(hf_hub_download(repo_id=str(source), filename="model.safetensors"))
            except Exception as err:
                raise FileNotFoundError(
                    f"init_from={source!r}: not a local checkpoint directory and not resolvable as a Hub repo "
                    f"(offline? cache it first): {err}"
                ) from err
        if not path.is_file():
            raise FileNotFoundError(f"init_from={source!r}: {path} does not exist")
        checkpoint = load_file(str(path))
        own = self.state_dict()
        mismatched = [
            f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
            for k, v in checkpoint.items()
            if k in own and own[k].shape != v.shape
        ]
        if mismatched:
            raise ValueError(
                f"init_from={source!r} does not match this architecture (same vlm_model_name, num_vlm_layers, "
                f"expert width, max_state_dim/max_action_dim needed): {mismatched[:5]}"
            )
        loaded = [k for k in checkpoint if k in own]
        if not loaded:
            raise ValueError(f"init_from={source!r}: {path} holds no weight of this policy (not a SmolVLA checkpoint?)")
        ignored = [k for k in checkpoint if k not in own]
        fresh = [k for k in own if k not in checkpoint]
        self.load_state_dict({k: checkpoint[k] for k in loaded}, strict=False)
        logger.info(
            "init_from %s: loaded %d tensors, %d new tensors start fresh (%s), %d checkpoint tensors unused",
            source, len(loaded), len(fresh), sorted({k.rsplit(".", 2)[0] for k in fresh})[:8], len(ignored),
        )
        return {"loaded": loaded, "fresh": fresh, "ignored": ignored}

    def _tactile_from_batch(self, batch: dict[str, Tensor]) -> Tensor | None:
        if not self.config.use_tactile:
            return None
        key = self.config.tactile_key
        if key not in batch:
            raise MissingTactileInputError(
                f"use_tactile=true but the batch has no '{key}' (keys: {sorted(batch)}). With lerobot-eval, map "
                f"the env's tactile observation onto it, e.g. --rename_map='{{\"observation.environment_state\": "
                f"\"{key}\"}}'."
            )
        grid = batch[key]
        expected = self.config.tactile_grid_shape
        if grid.ndim == len(expected) + 2:  # (B, n_obs_steps, N, R, C, 3) from a training batch
            grid = grid[:, -1]
        if grid.ndim != len(expected) + 1 or tuple(grid.shape[1:]) != tuple(expected):
            raise ValueError(
                f"'{key}' has shape {tuple(batch[key].shape)}; expected (B, {', '.join(map(str, expected))}) or "
                f"(B, n_obs_steps, {', '.join(map(str, expected))})"
            )
        return grid

    def forward(self, batch: dict[str, Tensor], noise=None, time=None, reduction: str = "mean"):
        batch = dict(batch)
        if ACTION_IS_PAD in batch:
            batch[_STOCK_PAD_KEY] = batch[ACTION_IS_PAD]  # lerobot#1707: let stock's masking see the real key
        with self.model.tactile_input(self._tactile_from_batch(batch)):
            loss, loss_dict = super().forward(batch, noise=noise, time=time, reduction=reduction)
        aux = self.model.last_aux_losses
        self.model.last_aux_losses = {}
        if not aux:
            return loss, loss_dict

        def reduce(elementwise: Tensor) -> Tensor:
            if elementwise.ndim == 3 and ACTION_IS_PAD in batch:  # same masking as stock's main loss
                elementwise = elementwise * (~batch[ACTION_IS_PAD]).unsqueeze(-1)
            dims = tuple(range(1, elementwise.ndim))
            per_sample = elementwise.mean(dim=dims) if dims else elementwise
            return per_sample if reduction == "none" else per_sample.mean()

        loss_dict["loss_main"] = loss_dict["loss"]
        total = loss
        logged: dict[str, Tensor] = {}
        if "arm" in aux:
            logged["loss_arm"], logged["loss_hand"] = reduce(aux["arm"]), reduce(aux["hand"])
            total = total + self.config.aux_loss_lambda * (logged["loss_arm"] + logged["loss_hand"])
        if "recon" in aux:
            logged["loss_tactile_recon"] = reduce(aux["recon"])
            total = total + self.config.tactile_recon_loss_weight * logged["loss_tactile_recon"]
        logged["loss"] = total
        values = torch.stack([v.detach().float().mean() for v in logged.values()]).tolist()  # one device sync
        loss_dict.update(zip(logged, values, strict=True))
        return total, loss_dict

    def _get_action_chunk(self, batch: dict[str, Tensor], noise: Tensor | None = None, **kwargs) -> Tensor:
        with self.model.tactile_input(self._tactile_from_batch(batch)):
            return super()._get_action_chunk(batch, noise, **kwargs)
