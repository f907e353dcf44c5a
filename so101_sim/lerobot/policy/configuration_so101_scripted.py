"""Config of the ``so101_scripted`` policy type: the scripted expert as a LeRobot policy.

It needs no weights and no dataset: ``lerobot-eval --env.type=so101 --env.task=Lift-v0
--policy.type=so101_scripted``. It acts only on what the env gives a policy: ``observation.state`` (joint
positions, in ``units``), ``observation.environment_state`` (cube pose and target) and the task text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import NormalizationMode
from lerobot.optim.optimizers import AdamWConfig

POLICY_TYPE = "so101_scripted"


@PreTrainedConfig.register_subclass(POLICY_TYPE)
@dataclass
class SO101ScriptedConfig(PreTrainedConfig):
    # Which task's script to run: "auto" reads it from the instruction the env sends with each step
    # (e.g. "Pick up the red cube." -> Lift), or name one: Reach-v0, Lift-v0, PickPlace-v0.
    task: str = "auto"
    units: str = "lerobot"  # units of observation.state and of the actions (the env's --env.units)
    cube_pose_noise: list[float] = field(default_factory=lambda: [0.0, 0.0])  # metres, degrees
    seed: int = 0
    normalization_mapping: dict[str, NormalizationMode] = field(
        default_factory=lambda: {
            "VISUAL": NormalizationMode.IDENTITY,
            "STATE": NormalizationMode.IDENTITY,
            "ENV": NormalizationMode.IDENTITY,
            "ACTION": NormalizationMode.IDENTITY,
        }
    )

    @property
    def observation_delta_indices(self) -> None:
        return None

    @property
    def action_delta_indices(self) -> None:
        return None

    @property
    def reward_delta_indices(self) -> None:
        return None

    def get_optimizer_preset(self) -> AdamWConfig:
        return AdamWConfig(lr=0.0)

    def get_scheduler_preset(self) -> None:
        return None

    def validate_features(self) -> None:
        missing = [k for k in ("observation.state", "observation.environment_state") if k not in self.input_features]
        if self.input_features and missing:
            raise ValueError(
                f"so101_scripted needs the env features {missing}: use an so101 env with the default "
                "environment_state='task' (cube pose and target)."
            )
