"""Configs of the hardware-free teleoperators for the simulated SO-101 (``--teleop.type=so101_keyboard`` ...).

Registered in LeRobot's teleoperator registry; the ``lerobot_robot_so101_sim`` plugin imports them, so stock
``lerobot-record`` / ``lerobot-teleoperate`` find them. Key maps and pad layouts: :mod:`so101_sim.lerobot.teleop.keymaps`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lerobot.teleoperators.config import TeleoperatorConfig


@TeleoperatorConfig.register_subclass("so101_keyboard")
@dataclass
class SO101KeyboardConfig(TeleoperatorConfig):
    """Joint-space keyboard: each held key moves one joint goal at ``joint_speed`` robot units per second.

    Speeds are per second of *simulated* time (per frame: speed / the robot's fps), in the robot's units
    (degrees with ``use_degrees=true``; the gripper 0-100). ``key_script`` replays a JSON file of key holds
    instead of listening to the keyboard (demos, tests, headless machines); see ``docs/teleop_keyboard.md``.
    """

    joint_speed: float = 45.0
    gripper_speed: float = 100.0
    key_script: str | None = None
    robot_id: str | None = None  # which so101_sim robot, when several are connected


@TeleoperatorConfig.register_subclass("so101_keyboard_ee")
@dataclass
class SO101KeyboardEEConfig(TeleoperatorConfig):
    """End-effector keyboard with LeRobot ``keyboard_ee``'s keys and actions (``delta_x/y/z``, ``gripper``).

    LeRobot 0.4.4's ``keyboard_ee`` listener drops every non-character key (arrows, shift, ctrl), so the arm
    cannot move with a real keyboard there; this one keeps them, and a held key keeps moving until released.
    Needs ``--robot.control_mode=ee_delta``.
    """

    use_gripper: bool = True
    key_script: str | None = None
    robot_id: str | None = None


@TeleoperatorConfig.register_subclass("so101_gamepad")
@dataclass
class SO101GamepadConfig(TeleoperatorConfig):
    """Joint-space gamepad (pygame joystick) with the ``layout`` of an Xbox or DualShock pad; see the docs."""

    layout: str = "xbox"
    joystick_index: int = 0
    joint_speed: float = 60.0
    gripper_speed: float = 100.0
    deadzone: float = 0.15
    robot_id: str | None = None
