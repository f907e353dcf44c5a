"""Keyboard teleoperators for the simulated SO-101: joint space (``so101_keyboard``) and end effector
(``so101_keyboard_ee``).

Keys come from a pynput listener (a desktop session: X11, macOS, Windows) or, with ``key_script``, from a JSON
file replayed one frame per ``get_action`` call. Both feed the same ``_on_key`` handler, so a script drives
exactly the code a person at the keyboard drives.

Key script: a JSON list of ``[keys, seconds]`` holds, played in order; ``keys`` is ``""`` (nothing), one key
name or several joined by ``+`` (``"w+q"``); names as pynput gives them (``"w"``, ``"up"``, ``"space"``).
Seconds are simulated time: a hold lasts ``round(seconds * fps)`` frames of the robot, so one script makes the
same motion at any recording rate. After the last hold no key is pressed.
"""

from __future__ import annotations

import json
import logging
import queue
from pathlib import Path
from typing import Any

import numpy as np
from lerobot.utils.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError

from so101_sim import adapters
from so101_sim.lerobot.robot.so101_sim import (
    EE_ACTION_KEYS,
    JOINT_ACTION_KEYS,
    HardwareFreeTeleoperator,
    SO101Sim,
    connected_sim_robot,
)
from so101_sim.lerobot.teleop import keymaps
from so101_sim.lerobot.teleop.config_teleop import SO101KeyboardConfig, SO101KeyboardEEConfig

logger = logging.getLogger(__name__)


def key_name(key: Any) -> str | None:
    """pynput key -> our name: the lower-case character, or the special key's name (``Key.up`` -> ``"up"``)."""
    char = getattr(key, "char", None)
    if char:
        return char.lower()
    return getattr(key, "name", None)


def load_key_script(path: str | Path) -> list[tuple[frozenset[str], float]]:
    """Read a key script (module docstring); errors name the file, the entry and the expected form."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"key script {path}: cannot read JSON ({exc})") from exc
    if not isinstance(raw, list):
        raise TypeError(f'key script {path}: expected a JSON list of ["keys", seconds], got {type(raw).__name__}')
    holds = []
    for i, item in enumerate(raw):
        ok = isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
        ok = ok and isinstance(item[1], (int, float)) and not isinstance(item[1], bool) and item[1] >= 0
        if not ok:
            raise ValueError(f'key script {path}: entry {i} is {item!r}; expected ["keys", seconds >= 0]')
        keys = frozenset(k.strip().lower() for k in item[0].split("+") if k.strip())
        holds.append((keys, float(item[1])))
    return holds


class KeyScriptPlayer:
    """Turns a key script into press/release events, one frame at a time."""

    def __init__(self, holds: list[tuple[frozenset[str], float]]) -> None:
        self._holds = holds
        self._index = 0
        self._frames_left: int | None = None
        self._held: frozenset[str] = frozenset()

    @property
    def finished(self) -> bool:
        return self._index >= len(self._holds)

    def next_frame(self, fps: float) -> list[tuple[str, bool]]:
        """Events (key, pressed) that bring the held keys to this frame's hold."""
        while not self.finished:
            _, seconds = self._holds[self._index]
            if self._frames_left is None:
                self._frames_left = round(seconds * fps)
            if self._frames_left > 0:
                self._frames_left -= 1
                break
            self._index, self._frames_left = self._index + 1, None
        want = frozenset() if self.finished else self._holds[self._index][0]
        events = [(k, False) for k in sorted(self._held - want)] + [(k, True) for k in sorted(want - self._held)]
        self._held = want
        return events


class _SimKeyboard(HardwareFreeTeleoperator):
    """Listener or key script -> held keys; space start/stop, R reset, ESC quit (shared by both keyboards)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.config = config
        self._events: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()
        self._held: set[str] = set()
        self._listener = None
        self._script: KeyScriptPlayer | None = None
        self._connected = False
        self.paused = False
        self.quit = False

    # ----------------------------------------------------------------- lifecycle
    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self, calibrate: bool = True) -> None:
        if self._connected:
            raise DeviceAlreadyConnectedError(f"{self} is already connected")
        if self.config.key_script:
            self._script = KeyScriptPlayer(load_key_script(self.config.key_script))
        else:
            self._listener = self._start_listener()
        self._connected = True

    def _start_listener(self):
        try:
            from pynput import keyboard
        except Exception as exc:  # pynput raises ImportError (no X display) or OS-specific errors
            raise DeviceNotConnectedError(
                f"{self.name} needs a keyboard, read through pynput, which could not start here ({exc}). On a "
                "machine without a desktop session pass --teleop.key_script=FILE (docs/teleop_keyboard.md) or "
                "use --teleop.type=so101_sim_expert."
            ) from exc
        listener = keyboard.Listener(on_press=self._on_press, on_release=self._on_release)
        listener.start()
        return listener

    def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self._connected = False

    # ----------------------------------------------------------------- input
    def _on_press(self, key: Any) -> None:  # pynput thread
        name = key_name(key)
        if name is not None:
            self._events.put((name, True))

    def _on_release(self, key: Any) -> None:  # pynput thread
        name = key_name(key)
        if name is not None:
            self._events.put((name, False))

    def _poll(self, fps: float) -> None:
        """Apply this frame's key events: held keys, and the start/stop, reset and quit edges."""
        if not self._connected:
            raise DeviceNotConnectedError(f"{self} is not connected; call connect() first")
        if self._script is not None:
            for event in self._script.next_frame(fps):
                self._events.put(event)
        while True:
            try:
                name, pressed = self._events.get_nowait()
            except queue.Empty:
                break
            if not pressed:
                self._held.discard(name)
                continue
            if name not in self._held:  # an edge, not the OS's key repeat
                self._on_edge(name)
            self._held.add(name)

    def _on_edge(self, name: str) -> None:
        if name == keymaps.PAUSE_KEY:
            self.paused = not self.paused
            logger.info("%s %s", self, "stopped: the arm holds its pose" if self.paused else "started")
        elif name == keymaps.RESET_KEY:
            robot = self._sim_robot(required=False)
            if robot is None:
                logger.warning("%s: reset key pressed but no so101_sim robot is connected in this process", self)
            else:
                robot.request_reset()
        elif name == keymaps.QUIT_KEY:
            self.quit = True
            logger.info("%s: ESC, teleoperation stopped (the arm holds its pose)", self)

    def _sim_robot(self, required: bool = True) -> SO101Sim | None:
        try:
            return connected_sim_robot(self.config.robot_id, self.name)
        except DeviceNotConnectedError:
            if required:
                raise
            return None

    @property
    def script_finished(self) -> bool:
        return self._script is not None and self._script.finished


class SO101Keyboard(_SimKeyboard):
    """Joint-space keyboard for the connected ``so101_sim`` robot: held keys move joint goals (``keymaps``).

    Returns absolute goals ``{motor}.pos`` (what a leader arm returns), integrated from the robot's pose at
    each scene reset, at ``joint_speed`` / ``gripper_speed`` robot units per simulated second.
    """

    config_class = SO101KeyboardConfig
    name = "so101_keyboard"

    def __init__(self, config: SO101KeyboardConfig) -> None:
        super().__init__(config)
        self._target: np.ndarray | None = None
        self._episode_seen = -1

    @property
    def action_features(self) -> dict:
        return dict.fromkeys(JOINT_ACTION_KEYS, float)

    def get_action(self) -> dict[str, float]:
        robot = self._sim_robot()
        fps = float(robot.config.fps)
        if robot.episode != self._episode_seen:  # connected, or the scene was reset: start from the pose
            self._target = np.asarray(robot.sim_observation["agent_pos"], dtype=np.float64).copy()
            self._episode_seen = robot.episode
        self._poll(fps)
        if not (self.paused or self.quit):
            for key in self._held:
                if key in keymaps.JOINT_KEYS:
                    motor, sign = keymaps.JOINT_KEYS[key]
                    i = adapters.JOINT_NAMES.index(motor)
                    speed = self.config.gripper_speed if i == adapters.GRIPPER_INDEX else self.config.joint_speed
                    self._target[i] += sign * speed / fps
            low, high = adapters.units_bounds(robot.config.units)
            self._target = np.clip(self._target, low, high)
        return adapters.vector_to_motor_dict(self._target)


class SO101KeyboardEE(_SimKeyboard):
    """LeRobot ``keyboard_ee``'s keys and actions, with held keys kept until released (see the config)."""

    config_class = SO101KeyboardEEConfig
    name = "so101_keyboard_ee"

    @property
    def action_features(self) -> dict:
        keys = EE_ACTION_KEYS if self.config.use_gripper else EE_ACTION_KEYS[:3]
        return dict.fromkeys(keys, float)

    def get_action(self) -> dict[str, float]:
        robot = self._sim_robot(required=False)
        self._poll(float(robot.config.fps) if robot is not None else 30.0)
        action = dict.fromkeys(EE_ACTION_KEYS[:3], 0.0)
        gripper = 1.0
        if not (self.paused or self.quit):
            for key in self._held:
                if key in keymaps.EE_KEYS:
                    axis, sign = keymaps.EE_KEYS[key]
                    action[axis] = float(np.clip(action[axis] + sign, -1.0, 1.0))
                elif key in keymaps.EE_GRIPPER_KEYS:
                    gripper = keymaps.EE_GRIPPER_KEYS[key]
        if self.config.use_gripper:
            action["gripper"] = gripper
        return action
