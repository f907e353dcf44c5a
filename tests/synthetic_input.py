"""Synthetic keyboard and gamepad input for the teleoperator tests (no display, no device on CI).

Keyboard: a pynput backend (``PYNPUT_BACKEND_KEYBOARD=synthetic``) whose ``Listener`` is pynput's own base
listener, alive until stopped, with ``press``/``release`` calling the callbacks the way the X11 backend does
(``on_press(key, injected)``). LeRobot's keyboard teleoperators then receive events exactly where a desktop
session delivers them. LeRobot 0.4.4 imports pynput only when ``DISPLAY`` is set, so that is set too.

Gamepad: ``VirtualJoystick`` answers the ``pygame.joystick.JoystickType`` calls the teleoperators make; button
events go through pygame's own event queue (SDL's dummy video driver).
"""

from __future__ import annotations

import enum
import importlib
import os
import sys
import threading
import types
from typing import ClassVar


def _backend_module() -> types.ModuleType:
    from pynput.keyboard import _base

    class Listener(_base.Listener):
        live: ClassVar[list[Listener]] = []

        def _run(self) -> None:
            self._stopped = threading.Event()
            Listener.live.append(self)
            self._mark_ready()
            self._stopped.wait()

        def _stop_platform(self) -> None:
            if self in Listener.live:
                Listener.live.remove(self)
            getattr(self, "_stopped", threading.Event()).set()

    # pynput's base Key gives every special key the same placeholder code (so they alias one another); a
    # platform backend gives each its own, as here.
    names = list(_base.Key.__members__)
    key = enum.Enum("Key", {n: _base.KeyCode.from_vk(0xFF00 + i) for i, n in enumerate(names)}, module=__name__)
    module = types.ModuleType("pynput.keyboard._synthetic")
    module.Key, module.KeyCode, module.Controller, module.Listener = key, _base.KeyCode, _base.Controller, Listener
    return module


class SyntheticKeyboard:
    """Deliver key events to every live pynput listener of this process."""

    def __init__(self, keyboard_module) -> None:
        self.kb = keyboard_module

    def key(self, name: str):
        return getattr(self.kb.Key, name) if len(name) > 1 else self.kb.KeyCode.from_char(name)

    def _listeners(self):
        listeners = list(self.kb.Listener.live)
        if not listeners:
            raise RuntimeError("no pynput listener is running (was the teleoperator connected?)")
        return listeners

    def press(self, name: str) -> None:
        for listener in self._listeners():
            listener.on_press(self.key(name), True)

    def release(self, name: str) -> None:
        for listener in self._listeners():
            listener.on_release(self.key(name), True)


def synthetic_keyboard() -> SyntheticKeyboard:
    """Install the synthetic backend (idempotent) and make LeRobot's keyboard module use pynput."""
    os.environ.setdefault("DISPLAY", ":synthetic")
    os.environ.setdefault("PYNPUT_BACKEND_MOUSE", "dummy")  # pynput imports its mouse package too
    if "pynput.keyboard._synthetic" not in sys.modules:
        os.environ["PYNPUT_BACKEND_KEYBOARD"] = "dummy"  # importable anywhere; provides pynput's base classes
        import pynput.keyboard

        sys.modules["pynput.keyboard._synthetic"] = _backend_module()
        os.environ["PYNPUT_BACKEND_KEYBOARD"] = "synthetic"
        importlib.reload(pynput.keyboard)  # pynput picks its backend at import: now ours
    from lerobot.teleoperators.keyboard import teleop_keyboard
    from pynput import keyboard

    if not teleop_keyboard.PYNPUT_AVAILABLE:  # imported earlier in this process without DISPLAY
        importlib.reload(teleop_keyboard)
    return SyntheticKeyboard(keyboard)


class VirtualJoystick:
    """What a pygame ``Joystick`` answers; tests set ``axes``/``buttons`` as a person moves the pad."""

    def __init__(self, n_axes: int = 6, n_buttons: int = 11, name: str = "virtual pad") -> None:
        self.axes = [0.0] * n_axes
        self.buttons = [0] * n_buttons
        self.name = name

    def init(self) -> None:
        pass

    def quit(self) -> None:
        pass

    def get_init(self) -> bool:
        return True

    def get_name(self) -> str:
        return self.name

    def get_numaxes(self) -> int:
        return len(self.axes)

    def get_numbuttons(self) -> int:
        return len(self.buttons)

    def get_axis(self, i: int) -> float:
        return self.axes[i]

    def get_button(self, i: int) -> int:
        return self.buttons[i]
