"""The ``so101`` env type: ``lerobot-eval --env.type=so101 --env.task=Lift-v0`` and in-training eval.

LeRobot's own factory builds the vector env (``SyncVectorEnv`` with SAME_STEP autoreset) from the gym id
``so101_sim/<task>``; this config only declares the options and the features policies are built from.
Observation keys follow what lerobot 0.4.4 passes to policies: ``pixels/<camera>`` ->
``observation.images.<camera>``, ``agent_pos`` -> ``observation.state``, ``environment_state`` ->
``observation.environment_state`` (cube pose and target, or the tactile grid with ``tactile=true``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig, HubEnvConfig

from so101_sim.lerobot import compat
from so101_sim.cameras import CAMERAS
from so101_sim.mujoco.rendering import camera_sizes
from so101_sim.tasks import ENV_STATE_DIM

import logging

ENV_TYPE = "so101"  # --env.type=so101, unless another package registered that name first (see below)
ENV_TYPE_ALIAS = "so101_sim"  # --env.type=so101_sim: always this package's env type

log = logging.getLogger(__name__)


def so101_features(
    cameras: list[str],
    camera_sizes: dict[str, tuple[int, int]],
    control_mode: str,
    ee_orientation: bool,
    environment_state: str,
    tactile_grid: tuple[int, int],
    tactile: bool = False,
) -> tuple[dict[str, PolicyFeature], dict[str, str]]:
    """Env features and their policy keys, shared by the env type, the Hub env and env.py."""
    action_dim = 6 if control_mode == "joint" else (7 if ee_orientation else 4)
    features = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(action_dim,))}
    fmap = {"action": "action", "agent_pos": "observation.state"}
    for cam in cameras:
        h, w = camera_sizes[cam]
        features[f"pixels/{cam}"] = PolicyFeature(type=FeatureType.VISUAL, shape=(h, w, 3))
        fmap[f"pixels/{cam}"] = f"observation.images.{cam}"
    features["agent_pos"] = PolicyFeature(type=FeatureType.STATE, shape=(6,))
    env_shape = (2, *tactile_grid, 3) if environment_state == "tactile" else (ENV_STATE_DIM,)
    features["environment_state"] = PolicyFeature(type=FeatureType.ENV, shape=env_shape)
    fmap["environment_state"] = "observation.environment_state"
    if tactile:  # its own key on lerobot >= 0.6 (observation.tactile.force_grid); 0.4.4 drops extra keys
        compat.add_tactile_feature(features, fmap, tactile_grid)
    return features, fmap


@dataclass
class SO101EnvConfig(HubEnvConfig):
    """Options of the SO-101 simulation, as ``--env.<name>=...``.

    With the default MuJoCo backend, LeRobot builds the vector env itself from the gym id (sync vectorisation).
    ``--env.backend=isaac`` (all worlds in one Isaac Lab simulation) and ``--env.envhub_loader=true`` (needed
    for ``--eval.use_async_envs=true`` on lerobot 0.4.4) go through LeRobot's EnvHub loader with this
    package's own entry point instead (:mod:`so101_sim.lerobot.local_envhub`): add ``--trust_remote_code=true``.
    On lerobot >= 0.6 none of that is needed: LeRobot calls :meth:`create_envs` for every backend, sync or async,
    and ``--env.tactile=true`` adds the grid as ``observation.tactile.force_grid`` (:mod:`so101_sim.lerobot.compat`).
    """

    task: str | None = "Lift-v0"  # Reach-v0, Lift-v0, LiftFixed-v0, PickPlace-v0 (Isaac: Isaac-SO-ARM101-...)
    backend: str = "mujoco"  # mujoco or isaac
    envhub_loader: bool = False
    # Isaac backend only: simulation device, and whether to start Isaac Sim here (else it must be running).
    device: str = "cuda:0"
    launch_app: bool = False
    headless: bool = True
    fps: int = 30
    episode_length: int | None = None  # control steps; default per task (Lift: 300 = 10 s)
    cameras: list[str] = field(default_factory=lambda: list(CAMERAS))
    image_size: int = 256  # square resolution of every camera ...
    camera_sizes: dict[str, list[int]] = field(default_factory=dict)  # ... or per camera: {"camera2": [480, 640]}
    units: str = "lerobot"  # lerobot (so101_follower: degrees, gripper 0-100), lerobot_range, radians
    control_mode: str = "joint"  # joint (absolute targets) or ee_delta (Cartesian steps + gripper)
    ee_orientation: bool = False
    tactile: bool = False  # simulated gripper-pad taxel grids ...
    tactile_grid: list[int] = field(default_factory=lambda: [10, 12])
    environment_state: str = "task"  # ... delivered as environment_state when this is "tactile"
    render_preset: str = "fast"  # fast, pretty, full
    render_camera: str = "camera3"  # the camera lerobot-eval records videos from
    instruction: str | None = None  # overrides the task's default language instruction
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend not in ("mujoco", "isaac"):
            raise ValueError(f"--env.backend must be mujoco or isaac, got {self.backend!r}")
        if self.environment_state == "tactile":
            self.tactile = True
        needs_envhub_route = self.backend == "isaac" or self.envhub_loader
        if needs_envhub_route and not self.hub_path and not compat.ENV_CONFIG_BUILDS_ENVS:  # 0.4.4 only
            from so101_sim.lerobot.local_envhub import local_envhub_ref

            self.hub_path = local_envhub_ref()
        self.features, self.features_map = so101_features(
            list(self.cameras),
            self.resolved_camera_sizes(),
            self.control_mode,
            self.ee_orientation,
            self.environment_state,
            tuple(self.tactile_grid),
            self.tactile,
        )

    def create_envs(self, n_envs: int, use_async_envs: bool = False) -> dict:
        """lerobot >= 0.6 builds the envs here (any backend, sync or async); 0.4.4 never calls this."""
        return compat.create_so101_envs(self, n_envs, use_async_envs)

    def get_env_processors(self):
        """lerobot >= 0.6: extra observation keys renamed to their policy keys (the tactile grid)."""
        return compat.env_processors(self.features_map)

    def resolved_camera_sizes(self) -> dict[str, tuple[int, int]]:
        return camera_sizes(self.cameras, self.image_size, self.camera_sizes)

    @property
    def package_name(self) -> str:
        return "so101_sim"

    @property
    def gym_id(self) -> str:
        return f"so101_sim/{self.task}"

    @property
    def gym_kwargs(self) -> dict:
        return {
            "cameras": tuple(self.cameras),
            "image_size": self.resolved_camera_sizes(),
            "episode_length": self.episode_length,
            "units": self.units,
            "control_mode": self.control_mode,
            "ee_orientation": self.ee_orientation,
            "tactile": self.tactile,
            "tactile_grid": tuple(self.tactile_grid),
            "environment_state": self.environment_state,
            "render_mode": "rgb_array",
            "render_preset": self.render_preset,
            "render_camera": self.render_camera,
            "instruction": self.instruction,
        }


def register_env_types(config_cls: type[EnvConfig] = SO101EnvConfig) -> list[str]:
    """Register ``config_cls`` as ``so101`` (when free) and as ``so101_sim``; returns the names it holds.

    The PyPI package ``lerobot-env-so101`` (a different SO-101 pick-cube env) registers ``so101`` too, and
    LeRobot imports plugins in no fixed order. Registering a taken name raises in draccus, which would lose
    this package's whole plugin (env types and policies); instead ``so101`` is left to whoever came first, a
    warning names the owner, and ``--env.type=so101_sim`` always selects this env.
    """
    names = []
    owner = EnvConfig.get_known_choices().get(ENV_TYPE)
    if owner is None or owner is config_cls:
        EnvConfig.register_subclass(ENV_TYPE, config_cls)
        names.append(ENV_TYPE)
    else:
        log.warning(
            "LeRobot env type %r is already registered by %s.%s (another package, e.g. lerobot-env-so101); "
            "the so101-sim env stays available as --env.type=%s",
            ENV_TYPE, owner.__module__, owner.__qualname__, ENV_TYPE_ALIAS,
        )  # fmt: skip
    EnvConfig.register_subclass(ENV_TYPE_ALIAS, config_cls)
    names.append(ENV_TYPE_ALIAS)
    return names


register_env_types()
