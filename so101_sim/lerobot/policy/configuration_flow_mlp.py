"""Config of the ``flow_mlp`` policy type: a small flow-matching policy over state (and optionally images).

An MLP velocity field ``v(x_t, t, obs)`` over a normalised action CHUNK (``chunk_size`` steps, of which
``n_action_steps`` are executed before re-planning), integrated from noise (t=0) to action (t=1) with
``num_inference_steps`` Euler steps. Trained by stock ``lerobot-train --policy.type=flow_mlp`` (flow-matching
loss) and evaluated by stock ``lerobot-eval``; ``so101-sim rl train`` fine-tunes it with ReinFlow. Predicting
chunks is what makes behaviour cloning of the timed scripted expert learnable (chunk 20 / execute 10).

Inputs: every STATE and ENV feature of the dataset/env (``observation.state``, ``observation.environment_state``),
and, with ``use_images=true``, every VISUAL feature through a small CNN (downsampled to ``image_resize``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import FeatureType, NormalizationMode
from lerobot.optim.optimizers import AdamWConfig

POLICY_TYPE = "flow_mlp"


@PreTrainedConfig.register_subclass(POLICY_TYPE)
@dataclass
class FlowMLPConfig(PreTrainedConfig):
    n_obs_steps: int = 1
    chunk_size: int = 20  # actions predicted per decision
    n_action_steps: int = 10  # of which executed before the next decision
    num_inference_steps: int = 4  # Euler steps of the ODE sampler (K)
    hidden_dim: int = 256
    n_layers: int = 3  # hidden layers of the velocity MLP
    obs_embed_dim: int = 128  # width of the observation embedding (also what the RL noise head reads)
    time_embed_dim: int = 32
    use_images: bool = False
    image_resize: int = 64  # images are area-downsampled to this square size before the CNN
    image_embed_dim: int = 64  # per camera
    # The ODE starts from x_0 = 0 (the mean of the prior) when true: the policy is deterministic for a given
    # observation, and from 15 Lift-v0 demos it succeeded 63% vs 10% when drawing x_0 ~ N(0, I) (false, like
    # a stock flow policy). RL explores with the chain's per-step noise instead.
    deterministic_start: bool = True
    normalization_mapping: dict[str, NormalizationMode] = field(
        default_factory=lambda: {
            "VISUAL": NormalizationMode.IDENTITY,
            "STATE": NormalizationMode.MEAN_STD,
            "ENV": NormalizationMode.MEAN_STD,
            "ACTION": NormalizationMode.MEAN_STD,
        }
    )
    optimizer_lr: float = 1e-3
    optimizer_weight_decay: float = 1e-6

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.n_action_steps <= self.chunk_size:
            raise ValueError(
                f"flow_mlp: n_action_steps must be in [1, chunk_size={self.chunk_size}], got {self.n_action_steps}"
            )
        if self.num_inference_steps < 1:
            raise ValueError(f"flow_mlp: num_inference_steps must be >= 1, got {self.num_inference_steps}")
        if self.n_obs_steps != 1:
            raise ValueError("flow_mlp: only n_obs_steps=1 is supported")

    @property
    def observation_delta_indices(self) -> None:
        return None

    @property
    def action_delta_indices(self) -> list[int]:
        return list(range(self.chunk_size))

    @property
    def reward_delta_indices(self) -> None:
        return None

    def get_optimizer_preset(self) -> AdamWConfig:
        return AdamWConfig(lr=self.optimizer_lr, weight_decay=self.optimizer_weight_decay)

    def get_scheduler_preset(self) -> None:
        return None

    @property
    def vector_keys(self) -> list[str]:
        """State-like inputs, in a fixed (sorted) order."""
        return sorted(k for k, ft in self.input_features.items() if ft.type in (FeatureType.STATE, FeatureType.ENV))

    @property
    def camera_keys(self) -> list[str]:
        return sorted(k for k, ft in self.input_features.items() if ft.type is FeatureType.VISUAL)

    def validate_features(self) -> None:
        if not self.vector_keys and not (self.use_images and self.camera_keys):
            raise ValueError(
                "flow_mlp needs at least one STATE/ENV input feature (e.g. observation.state) or, with "
                f"use_images=true, a VISUAL one; got input_features {sorted(self.input_features)}"
            )
        if self.use_images and not self.camera_keys:
            raise ValueError("flow_mlp: use_images=true but the dataset/env has no observation.images.* feature")
        if self.action_feature is None:
            raise ValueError("flow_mlp needs an 'action' output feature")
