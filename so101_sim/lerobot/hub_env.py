"""The generic ``hub`` env type: ``lerobot-eval --env.type=hub --env.repo=user/repo --trust_remote_code=true``.

lerobot 0.4.4 can load EnvHub repositories (a Hub repo holding an ``env.py`` with ``make_env``) but registers
no CLI env type for them. This one does, and hands the work to LeRobot's own EnvHub loader
(``lerobot.envs.factory.make_env`` takes the Hub branch for any ``HubEnvConfig``), so remote-code consent,
revision pinning (``user/repo@<sha>``) and the ``:path/env.py`` suffix behave exactly as upstream.

Policies are built from the env's features before any env exists, so the repository's features must be
known up front: an ``env.py`` may fill ``cfg.features``/``cfg.features_map`` itself (ours does), otherwise
they are declared here from ``--env.action_dim``, ``--env.state_dim``, ``--env.cameras`` and
``--env.image_size`` (the keys LeRobot passes on: ``pixels/<cam>``, ``agent_pos``, ``environment_state``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig, HubEnvConfig

from so101_sim.cameras import CAMERAS


@EnvConfig.register_subclass("hub")
@dataclass
class HubEnv(HubEnvConfig):
    repo: str | None = None  # user/repo[@revision][:path/env.py]
    action_dim: int = 6
    state_dim: int = 6
    env_state_dim: int | None = None
    cameras: list[str] = field(default_factory=lambda: list(CAMERAS))
    image_size: int = 256
    # Passed through to the repository's make_env(cfg=...) (ours reads these; others may ignore them).
    task: str | None = "Lift-v0"
    backend: str = "mujoco"
    options: dict[str, str] = field(default_factory=dict)
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.repo and not self.hub_path:
            self.hub_path = self.repo
        if not self.hub_path:
            raise ValueError("--env.type=hub needs --env.repo=user/repo (an EnvHub repository with an env.py)")
        if not self.features:
            self.features = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(self.action_dim,))}
            self.features_map = {"action": "action", "agent_pos": "observation.state"}
            self.features["agent_pos"] = PolicyFeature(type=FeatureType.STATE, shape=(self.state_dim,))
            for cam in self.cameras:
                key = f"pixels/{cam}"
                self.features[key] = PolicyFeature(type=FeatureType.VISUAL, shape=(self.image_size, self.image_size, 3))
                self.features_map[key] = f"observation.images.{cam}"
            if self.env_state_dim:
                self.features["environment_state"] = PolicyFeature(type=FeatureType.ENV, shape=(self.env_state_dim,))
                self.features_map["environment_state"] = "observation.environment_state"

    def get_env_processors(self):
        """lerobot >= 0.6: extra observation keys renamed to the policy keys the env.py declared (tactile)."""
        from so101_sim.lerobot import compat

        return compat.env_processors(self.features_map)
