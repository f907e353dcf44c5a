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

from so101_sim.mujoco.rendering import camera_sizes
from so101_sim.tasks import ENV_STATE_DIM

ENV_TYPE = "so101"


def so101_features(
    cameras: list[str],
    camera_sizes: dict[str, tuple[int, int]],
    control_mode: str,
    ee_orientation: bool,
    environment_state: str,
    tactile_grid: tuple[int, int],
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
    return features, fmap


@EnvConfig.register_subclass(ENV_TYPE)
@dataclass
class SO101EnvConfig(HubEnvConfig):
    """Options of the SO-101 simulation, as ``--env.<name>=...``.

    With the default MuJoCo backend, LeRobot builds the vector env itself from the gym id (sync vectorisation).
    ``--env.backend=isaac`` (all worlds in one Isaac Lab simulation) and ``--env.envhub_loader=true`` (needed
    for ``--eval.use_async_envs=true`` on lerobot 0.4.4) go through LeRobot's EnvHub loader with this
    package's own entry point instead (:mod:`so101_sim.lerobot.local_envhub`): add ``--trust_remote_code=true``.
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
    cameras: list[str] = field(default_factory=lambda: ["camera1", "camera2", "camera3"])
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
        if (self.backend == "isaac" or self.envhub_loader) and not self.hub_path:
            from so101_sim.lerobot.local_envhub import local_envhub_ref

            self.hub_path = local_envhub_ref()
        self.features, self.features_map = so101_features(
            list(self.cameras),
            self.resolved_camera_sizes(),
            self.control_mode,
            self.ee_orientation,
            self.environment_state,
            tuple(self.tactile_grid),
        )

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
