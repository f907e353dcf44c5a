"""Key maps and gamepad layouts of the SO-101 sim teleoperators: the one place the bindings are written.

Keys are named as pynput names them: a character (``"w"``) or a special key's name (``"up"``, ``"shift_r"``).
The docs (``docs/teleop_*.md``) print these tables; tests check the docs against them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Joint-space keyboard (so101_keyboard): key -> (motor, direction). J/L duplicate the arrows because
# lerobot-record's own listener also reads the left/right arrows (re-record / next episode).
JOINT_KEYS: dict[str, tuple[str, int]] = {
    "left": ("shoulder_pan", +1),
    "right": ("shoulder_pan", -1),
    "j": ("shoulder_pan", +1),
    "l": ("shoulder_pan", -1),
    "w": ("shoulder_lift", +1),
    "s": ("shoulder_lift", -1),
    "i": ("elbow_flex", +1),
    "k": ("elbow_flex", -1),
    "z": ("wrist_flex", +1),
    "x": ("wrist_flex", -1),
    "a": ("wrist_roll", +1),
    "d": ("wrist_roll", -1),
    "q": ("gripper", +1),  # open
    "e": ("gripper", -1),  # close
}
PAUSE_KEY, RESET_KEY, QUIT_KEY = "space", "r", "esc"

# End-effector keyboard (so101_keyboard_ee): LeRobot keyboard_ee's bindings, kept identical so that a user
# moving to a LeRobot release with a fixed keyboard_ee finds the same keys.
EE_KEYS: dict[str, tuple[str, float]] = {
    "up": ("delta_y", -1.0),
    "down": ("delta_y", +1.0),
    "left": ("delta_x", +1.0),
    "right": ("delta_x", -1.0),
    "shift": ("delta_z", -1.0),
    "shift_r": ("delta_z", +1.0),
}
EE_GRIPPER_KEYS: dict[str, float] = {"ctrl_r": 2.0, "ctrl_l": 0.0}  # 2 open, 0 close (1 = stay)


@dataclass(frozen=True)
class PadLayout:
    """Axis and button indices of one pad as SDL2 (pygame) reports them on Linux."""

    name: str
    left_x: int
    left_y: int
    right_x: int
    right_y: int
    left_trigger: int  # an axis: -1 released .. +1 pressed
    right_trigger: int
    left_bumper: int  # buttons
    right_bumper: int
    south: int  # A / cross: start/stop
    east: int  # B / circle: reset
    start: int  # Start / options: quit


PAD_LAYOUTS: dict[str, PadLayout] = {
    # Xbox 360/One/Series pads (xpad driver, SDL2): axes LX LY LT RX RY RT; buttons A B X Y LB RB Back Start.
    "xbox": PadLayout("xbox", 0, 1, 3, 4, 2, 5, left_bumper=4, right_bumper=5, south=0, east=1, start=7),
    # DualShock 4 / DualSense (SDL2 HIDAPI driver): axes LX LY RX RY L2 R2; buttons
    # cross circle square triangle share PS options L3 R3 L1 R1.
    "dualshock": PadLayout("dualshock", 0, 1, 2, 3, 4, 5, left_bumper=9, right_bumper=10, south=0, east=1, start=6),
}

# What each pad control drives (so101_gamepad). Sticks: pushing up/right is + on the named joint.
PAD_BINDINGS: tuple[tuple[str, str], ...] = (
    ("left stick left/right", "shoulder_pan"),
    ("left stick up/down", "shoulder_lift"),
    ("right stick up/down", "elbow_flex"),
    ("right stick left/right", "wrist_roll"),
    ("LB / RB (L1 / R1)", "wrist_flex - / +"),
    ("LT / RT (L2 / R2)", "gripper close / open"),
    ("A (cross)", "start/stop (the arm holds its pose while stopped)"),
    ("B (circle)", "reset the scene (new cube pose, arm home)"),
    ("Start (options)", "quit"),
)
