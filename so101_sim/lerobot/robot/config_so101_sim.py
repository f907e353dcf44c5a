"""Config of the simulated SO-101 follower (``--robot.type=so101_sim``) and of the sim expert teleoperator."""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.robots.config import RobotConfig
from lerobot.teleoperators.config import TeleoperatorConfig


@RobotConfig.register_subclass("so101_sim")
@dataclass
class SO101SimConfig(RobotConfig):
    """A simulated SO-101 follower with the motor names, units and features of lerobot's ``so101_follower``.

    ``use_degrees`` and ``max_relative_target`` mean what they mean for ``so101_follower``. The cameras are the
    scene's cameras (camera1 top-down, camera2 wrist, camera3 side); ``camera_names`` renames them to match a
    real rig's dataset (e.g. ``{"camera1": "front", "camera2": "wrist"}``).
    """

    task: str = "Lift-v0"
    use_degrees: bool = True
    max_relative_target: float | None = None
    cameras: list[str] = field(default_factory=lambda: ["camera1", "camera2"])
    camera_names: dict[str, str] = field(default_factory=dict)
    image_height: int = 480
    image_width: int = 640
    render_preset: str = "fast"
    seed: int | None = 0
    # The scene is re-randomised (new cube pose) this long after the task is solved, and after
    # episode_time_s of simulated time (0 = never), so consecutive recorded episodes start fresh.
    reset_after_success_s: float = 1.0
    episode_time_s: float = 0.0
    real_time: bool = True  # pace get_observation/send_action to the simulated clock (30 Hz)

    def __post_init__(self) -> None:  # RobotConfig's own check expects camera config objects
        unknown = sorted(set(self.camera_names) - set(self.cameras))
        if unknown:
            raise ValueError(f"camera_names renames cameras {unknown} that are not in cameras={self.cameras}")

    @property
    def units(self) -> str:
        return "lerobot" if self.use_degrees else "lerobot_range"


@TeleoperatorConfig.register_subclass("so101_sim_expert")
@dataclass
class SO101SimExpertConfig(TeleoperatorConfig):
    """A teleoperator that needs no hardware: the scripted expert, driving the connected ``so101_sim`` robot.

    It reads the simulated scene (privileged state) of the robot connected in the same process and returns
    actions in the robot's units, like a leader arm moved by an expert.
    """

    robot_id: str | None = None  # which so101_sim robot to follow, when several are connected
    cube_pose_noise: list[float] = field(default_factory=lambda: [0.0, 0.0])
