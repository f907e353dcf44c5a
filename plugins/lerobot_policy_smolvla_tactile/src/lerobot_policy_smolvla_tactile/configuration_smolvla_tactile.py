"""Configuration of the ``smolvla_tactile`` policy type: stock SmolVLA plus touch and arm/hand heads.

Every SmolVLA option keeps its meaning and default. The defaults of the new options leave the model exactly
stock (``use_tactile=False``, ``use_arm_hand_feature_enhancement=False``), apart from the pad-mask fix
described in ``modeling_smolvla_tactile``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import NormalizationMode
from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig

DEFAULT_TACTILE_KEY = "observation.tactile.force_grid"
MAX_TACTILE_GRID = 16  # the spatial branch pads each fingertip grid to 16 x 16 taxels


@dataclass
class TactileTokenization:
    """Which TactileEmbedding branches run and how many prefix tokens each one emits (0 turns a branch off).

    - ``resultant_tokens``: the resultant-force branch. Each fingertip's grid is summed over its taxels (and
      divided by the taxel count, a fixed scale that keeps inputs O(1)), giving (N, 3); an MLP maps the N x 3
      values to this many tokens.
    - ``spatial_tokens``: the spatial branch. Each fingertip's grid is zero-padded to 16 x 16, encoded by a
      convolutional auto-encoder's encoder to ``spatial_latent_dim`` values, giving (N, latent); an MLP maps
      them to this many tokens.
    """

    resultant_tokens: int = 1
    spatial_tokens: int = 1
    spatial_latent_dim: int = 128
    mlp_hidden_dim: int = 256

    @property
    def num_tokens(self) -> int:
        return self.resultant_tokens + self.spatial_tokens


@PreTrainedConfig.register_subclass("smolvla_tactile")
@dataclass
class SmolVLATactileConfig(SmolVLAConfig):
    # --- touch ---------------------------------------------------------------------------------------------
    use_tactile: bool = False
    # Batch key of the (num_fingertips, rows, cols, 3) force grid. At eval an env can deliver it as
    # `observation.environment_state`; map it with --rename_map (see docs/smolvla_tactile.md).
    tactile_key: str = DEFAULT_TACTILE_KEY
    num_fingertips: int = 2
    tactile_tokenization: TactileTokenization = field(default_factory=TactileTokenization)
    # Weight of the auto-encoder reconstruction loss (0 disables it and builds no decoder).
    tactile_recon_loss_weight: float = 0.0

    # --- arm-hand feature enhancement ----------------------------------------------------------------------
    use_arm_hand_feature_enhancement: bool = False
    arm_indices: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5])
    hand_indices: list[int] = field(default_factory=lambda: [6])
    aux_loss_lambda: float = 1.0
    # Hidden width of E_arm / E_hand (<= 0: the action expert's width).
    arm_hand_hidden_dim: int = 0

    # --- initialisation ------------------------------------------------------------------------------------
    # A SmolVLA (or smolvla_tactile) checkpoint to start from: a local directory holding model.safetensors
    # (e.g. .../checkpoints/last/pretrained_model) or a Hub id such as `lerobot/smolvla_base` (resolved
    # through the Hugging Face cache, so it works offline with HF_HUB_OFFLINE=1 once cached). Matching
    # weights load, new modules (tactile embedding, arm/hand branches) start fresh. Ignored when a saved
    # smolvla_tactile policy is loaded with from_pretrained (its own weights win).
    init_from: str | None = None

    # Same as SmolVLA, plus ENV so that a tactile feature stored as `observation.environment_state` is
    # normalised too (stock SmolVLA leaves ENV features raw).
    normalization_mapping: dict[str, NormalizationMode] = field(
        default_factory=lambda: {
            "VISUAL": NormalizationMode.IDENTITY,
            "STATE": NormalizationMode.MEAN_STD,
            "ENV": NormalizationMode.MEAN_STD,
            "ACTION": NormalizationMode.MEAN_STD,
        }
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        tok = self.tactile_tokenization
        if isinstance(tok, dict):  # tolerate a plain dict when built from Python
            self.tactile_tokenization = tok = TactileTokenization(**tok)
        if self.use_tactile:
            if self.num_fingertips < 1:
                raise ValueError(f"num_fingertips must be >= 1, got {self.num_fingertips}")
            if tok.resultant_tokens < 0 or tok.spatial_tokens < 0 or tok.num_tokens == 0:
                raise ValueError(
                    "tactile_tokenization needs resultant_tokens >= 0, spatial_tokens >= 0 and at least one "
                    f"token in total, got {tok}"
                )
            if self.tactile_recon_loss_weight > 0 and tok.spatial_tokens == 0:
                raise ValueError("tactile_recon_loss_weight > 0 needs the spatial branch (spatial_tokens >= 1)")
        if self.use_arm_hand_feature_enhancement:
            for name in ("arm_indices", "hand_indices"):
                idx = getattr(self, name)
                if not idx or len(set(idx)) != len(idx) or min(idx) < 0 or max(idx) >= self.max_action_dim:
                    raise ValueError(
                        f"{name} must be a non-empty list of distinct action indices in [0, {self.max_action_dim}), "
                        f"got {idx}"
                    )
            if self.aux_loss_lambda < 0:
                raise ValueError(f"aux_loss_lambda must be >= 0, got {self.aux_loss_lambda}")

    def validate_features(self) -> None:
        super().validate_features()
        if self.use_tactile:
            self._validate_tactile_feature()
        if self.use_arm_hand_feature_enhancement and self.output_features:
            action_dim = self.action_feature.shape[0]
            bad = [i for i in (*self.arm_indices, *self.hand_indices) if i >= action_dim]
            if bad:
                raise ValueError(f"arm/hand indices {bad} are outside the {action_dim}-d action")

    def _validate_tactile_feature(self) -> None:
        feature = self.input_features.get(self.tactile_key)
        if feature is None:
            raise ValueError(
                f"use_tactile=true but the input features have no '{self.tactile_key}' "
                f"(available: {sorted(self.input_features)}). Record or convert the dataset with that feature, "
                "or point --policy.tactile_key at the key that holds the (fingertips, rows, cols, 3) force grid."
            )
        shape = tuple(feature.shape)
        if len(shape) != 4 or shape[0] != self.num_fingertips or shape[-1] != 3:
            raise ValueError(
                f"'{self.tactile_key}' has shape {shape}; expected (num_fingertips={self.num_fingertips}, rows, "
                "cols, 3)"
            )
        if shape[1] > MAX_TACTILE_GRID or shape[2] > MAX_TACTILE_GRID:
            raise ValueError(
                f"'{self.tactile_key}' grid {shape[1]}x{shape[2]} exceeds the {MAX_TACTILE_GRID}x{MAX_TACTILE_GRID} "
                "that the spatial branch pads to"
            )

    @property
    def tactile_grid_shape(self) -> tuple[int, int, int, int]:
        return tuple(self.input_features[self.tactile_key].shape)  # type: ignore[return-value]
