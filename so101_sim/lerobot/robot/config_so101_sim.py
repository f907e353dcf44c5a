"""Config of the simulated SO-101 follower (``--robot.type=so101_sim``) and of the sim expert teleoperator."""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.robots.config import RobotConfig
from lerobot.teleoperators.config import TeleoperatorConfig

from so101_sim.adapters import JOINT_NAMES
from so101_sim.tasks import CONTROL_HZ  # the one definition of the default control rate

ROBOT_CONTROL_MODES = ("joint", "ee_delta")


@RobotConfig.register_subclass("so101_sim")
@dataclass
class SO101SimConfig(RobotConfig):
    """A simulated SO-101 follower with the motor names, units and features of lerobot's ``so101_follower``.

    ``use_degrees`` and ``max_relative_target`` (one number for every motor, or a dict motor name -> number)
    mean what they mean for ``so101_follower``. The cameras are the scene's cameras (camera1 top-down, camera2
    wrist, camera3 side); ``camera_names`` renames them to match a real rig's dataset (e.g.
    ``{"camera1": "front", "camera2": "wrist"}``).

    Timing: each ``send_action`` advances the simulation by exactly ``1 / fps`` seconds; set ``fps`` to the
    recording's ``--dataset.fps`` (a rate the 240 Hz physics cannot divide evenly is refused at connect).
    ``real_time`` paces the calls to the wall clock (on for people at the keyboard; scripts and tests turn it
    off to run as fast as the machine allows).

    ``control_mode``: ``joint`` takes ``{motor}.pos`` goal positions (leader arm, policies, our joint-space
    keyboard and gamepad teleoperators); ``ee_delta`` takes LeRobot's end-effector commands ``delta_x``,
    ``delta_y``, ``delta_z`` (each in [-1, 1], from ``keyboard_ee`` / ``gamepad``) and ``gripper``
    (0 close, 1 stay, 2 open), solved to joint targets by the damped least-squares IK. A command of 1 moves the
    gripper frame by ``ee_speed_m_s / fps`` metres per frame along the robot base axis; the gripper moves by
    ``gripper_speed / fps`` units (0-100 range) per frame.
    """

    task: str = "Lift-v0"
    use_degrees: bool = True
    max_relative_target: float | dict[str, float] | None = None
    cameras: list[str] = field(default_factory=lambda: ["camera1", "camera2"])
    camera_names: dict[str, str] = field(default_factory=dict)
    image_height: int = 480
    image_width: int = 640
    render_preset: str = "fast"
    seed: int | None = 0
    fps: int = CONTROL_HZ
    real_time: bool = True
    viewer: bool = False  # show the scene in MuJoCo's viewer while teleoperating (needs a display)
    control_mode: str = "joint"
    ee_speed_m_s: float = 0.15
    gripper_speed: float = 150.0
    # The scene is re-randomised (new cube pose) this long after the task is solved, and after
    # episode_time_s of simulated time (0 = never), so consecutive recorded episodes start fresh.
    reset_after_success_s: float = 1.0
    episode_time_s: float = 0.0
    # Also re-place the cube when lerobot-record's own episode keys are pressed (right arrow: next episode, left
    # arrow: re-record); for leader arms and gamepads. Not with so101_keyboard(_ee), whose arrows move the arm.
    reset_on_record_keys: bool = False

    def __post_init__(self) -> None:  # RobotConfig's own check expects camera config objects
        unknown = sorted(set(self.camera_names) - set(self.cameras))
        if unknown:
            raise ValueError(f"camera_names renames cameras {unknown} that are not in cameras={self.cameras}")
        if self.control_mode not in ROBOT_CONTROL_MODES:
            raise ValueError(f"control_mode must be one of {ROBOT_CONTROL_MODES}, got {self.control_mode!r}")
        if self.ee_speed_m_s <= 0 or self.gripper_speed <= 0:
            raise ValueError("ee_speed_m_s and gripper_speed must be positive")
        self.max_relative_target = _check_max_relative_target(self.max_relative_target, self.control_mode)

    @property
    def units(self) -> str:
        return "lerobot" if self.use_degrees else "lerobot_range"


def _check_max_relative_target(value, control_mode: str):
    """``so101_follower``'s forms: one positive number, or one per motor (every motor named, no other key)."""
    if value is None:
        return None
    if control_mode != "joint":
        raise ValueError("max_relative_target limits joint goals: it needs control_mode='joint'")
    if isinstance(value, dict):
        expected = set(JOINT_NAMES)
        if set(value) != expected:
            raise ValueError(
                f"max_relative_target as a dict must name every motor exactly once: expected keys "
                f"{sorted(expected)}, got {sorted(value)}"
            )
        out = {k: float(v) for k, v in value.items()}
    else:
        out = float(value)  # lerobot's ensure_safe_goal_position accepts float, not int
    if min(out.values() if isinstance(out, dict) else [out]) <= 0:
        raise ValueError(f"max_relative_target must be positive, got {value}")
    return out


@TeleoperatorConfig.register_subclass("so101_sim_expert")
@dataclass
class SO101SimExpertConfig(TeleoperatorConfig):
    """A teleoperator that needs no hardware: the scripted expert, driving the connected ``so101_sim`` robot.

    It reads the simulated scene (privileged state) of the robot connected in the same process and returns
    actions in the robot's units, like a leader arm moved by an expert.
    """

    robot_id: str | None = None  # which so101_sim robot to follow, when several are connected
    cube_pose_noise: list[float] = field(default_factory=lambda: [0.0, 0.0])
