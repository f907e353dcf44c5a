"""Joint-space gamepad teleoperator for the simulated SO-101 (``--teleop.type=so101_gamepad``).

Reads one pygame joystick (SDL2: Xbox and DualShock/DualSense pads, wired or Bluetooth), the library LeRobot's
own ``gamepad`` teleoperator uses. Stick deflection (past ``deadzone``) sets a joint's speed, up to
``joint_speed`` robot units per simulated second; bindings and pad indices: :mod:`so101_sim.lerobot.teleop.keymaps`.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from lerobot.utils.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError

from so101_sim import adapters
from so101_sim.lerobot.robot.so101_sim import JOINT_ACTION_KEYS, HardwareFreeTeleoperator, connected_sim_robot
from so101_sim.lerobot.teleop.config_teleop import SO101GamepadConfig
from so101_sim.lerobot.teleop.keymaps import PAD_LAYOUTS, PadLayout

logger = logging.getLogger(__name__)


def _import_pygame():
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as exc:
        raise ImportError(
            "so101_gamepad reads the pad through pygame: pip install 'so101-sim[teleop]' (or lerobot[gamepad])"
        ) from exc
    return pygame


class SO101Gamepad(HardwareFreeTeleoperator):
    """Sticks and buttons -> joint goals ``{motor}.pos`` for the connected ``so101_sim`` robot."""

    config_class = SO101GamepadConfig
    name = "so101_gamepad"

    def __init__(self, config: SO101GamepadConfig) -> None:
        super().__init__(config)
        if config.layout not in PAD_LAYOUTS:
            raise ValueError(f"--teleop.layout must be one of {sorted(PAD_LAYOUTS)}, got {config.layout!r}")
        self.config = config
        self.layout: PadLayout = PAD_LAYOUTS[config.layout]
        self.joystick = None  # a pygame Joystick (connect() opens it)
        self._pygame = None
        self._target: np.ndarray | None = None
        self._episode_seen = -1
        self._buttons_down: set[int] = set()
        self.paused = False
        self.quit = False

    @property
    def action_features(self) -> dict:
        return dict.fromkeys(JOINT_ACTION_KEYS, float)

    @property
    def is_connected(self) -> bool:
        return self.joystick is not None

    def connect(self, calibrate: bool = True) -> None:
        if self.is_connected:
            raise DeviceAlreadyConnectedError(f"{self} is already connected")
        pygame = self._pygame = _import_pygame()
        pygame.init()
        pygame.joystick.init()
        count = pygame.joystick.get_count()
        if count <= self.config.joystick_index:
            raise DeviceNotConnectedError(
                f"{self}: no gamepad at index {self.config.joystick_index} ({count} found by SDL). Plug in or pair "
                "the pad; on Linux check that your user can read /dev/input/js* (or event*)."
            )
        self.joystick = pygame.joystick.Joystick(self.config.joystick_index)
        self.joystick.init()
        logger.info("%s: %s, layout %s", self, self.joystick.get_name(), self.layout.name)

    def disconnect(self) -> None:
        self.joystick = None
        if self._pygame is not None:
            self._pygame.joystick.quit()

    # ----------------------------------------------------------------- input
    def _axis(self, index: int) -> float:
        v = float(self.joystick.get_axis(index))
        return 0.0 if abs(v) < self.config.deadzone else v

    def _pressed_edges(self) -> set[int]:
        lay = self.layout
        watched = (lay.south, lay.east, lay.start)
        down = {b for b in watched if self.joystick.get_button(b)}
        edges = down - self._buttons_down
        self._buttons_down = down
        return edges

    def _speeds(self) -> np.ndarray:
        """Per-joint command in [-1, 1] from the sticks, bumpers and triggers (keymaps.PAD_BINDINGS)."""
        lay, js = self.layout, self.joystick
        cmd = np.zeros(6)
        cmd[0] = -self._axis(lay.left_x)  # stick right -> pan towards -
        cmd[1] = -self._axis(lay.left_y)  # SDL: stick up is negative
        cmd[2] = -self._axis(lay.right_y)
        cmd[4] = self._axis(lay.right_x)
        cmd[3] = float(js.get_button(lay.right_bumper)) - float(js.get_button(lay.left_bumper))
        # Triggers rest at -1 and read +1 fully pressed.
        open_, close = (float(js.get_axis(a)) > 0.0 for a in (lay.right_trigger, lay.left_trigger))
        cmd[5] = float(open_) - float(close)
        return cmd

    def get_action(self) -> dict[str, float]:
        if not self.is_connected:
            raise DeviceNotConnectedError(f"{self} is not connected; call connect() first")
        robot = connected_sim_robot(self.config.robot_id, self.name)
        fps = float(robot.config.fps)
        if robot.episode != self._episode_seen:
            self._target = np.asarray(robot.sim_observation["agent_pos"], dtype=np.float64).copy()
            self._episode_seen = robot.episode
        if self._pygame is not None:
            self._pygame.event.pump()  # SDL refreshes joystick state while events are pumped
        for button in self._pressed_edges():
            if button == self.layout.south:
                self.paused = not self.paused
            elif button == self.layout.east:
                robot.request_reset()
            elif button == self.layout.start:
                self.quit = True
        if not (self.paused or self.quit):
            speed = np.full(6, self.config.joint_speed)
            speed[adapters.GRIPPER_INDEX] = self.config.gripper_speed
            self._target += np.clip(self._speeds(), -1.0, 1.0) * speed / fps
            low, high = adapters.units_bounds(robot.config.units)
            self._target = np.clip(self._target, low, high)
        return adapters.vector_to_motor_dict(self._target)
