"""Hardware-free teleoperators for the simulated SO-101, in LeRobot's teleoperator registry.

``--teleop.type=so101_keyboard`` (joint space), ``so101_keyboard_ee`` (LeRobot keyboard_ee's keys, fixed
listener) and ``so101_gamepad`` (joint space, Xbox / DualShock). LeRobot finds each class next to its config
(``make_device_from_device_class``: ``SO101KeyboardConfig`` -> ``SO101Keyboard`` in this package).
"""

from so101_sim.lerobot.teleop.config_teleop import SO101GamepadConfig, SO101KeyboardConfig, SO101KeyboardEEConfig
from so101_sim.lerobot.teleop.gamepad import SO101Gamepad
from so101_sim.lerobot.teleop.keyboard import SO101Keyboard, SO101KeyboardEE

__all__ = [
    "SO101Gamepad",
    "SO101GamepadConfig",
    "SO101Keyboard",
    "SO101KeyboardConfig",
    "SO101KeyboardEE",
    "SO101KeyboardEEConfig",
]
