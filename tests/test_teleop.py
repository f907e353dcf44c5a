"""Teleoperating the simulated SO-101 through LeRobot's own keyboard_ee / gamepad classes and through ours.

Input is synthetic (tests/synthetic_input.py) and enters where each class reads it: the pynput listener
callbacks, LeRobot keyboard_ee's event queue, pygame's event queue and joystick. The arm is real MuJoCo.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import pytest
from synthetic_input import VirtualJoystick, synthetic_keyboard

FPS = 30
EE_SPEED = 0.15  # SO101SimConfig.ee_speed_m_s default: metres per simulated second at full command


def hw_to_dataset_features(features: dict, prefix: str) -> dict:
    from so101_sim.lerobot.compat import feature_utils  # LeRobot 0.6 moved it

    return feature_utils().hw_to_dataset_features(features, prefix)


def _robot(**kw):
    from so101_sim.lerobot.robot import SO101Sim, SO101SimConfig

    robot = SO101Sim(SO101SimConfig(cameras=[], real_time=False, **kw))
    robot.connect()
    return robot


def _drive(robot, teleop, frames: int, before_each=None) -> None:
    for _ in range(frames):
        if before_each is not None:
            before_each()
        robot.send_action(teleop.get_action())


def _settle(robot, teleop, frames: int = 15) -> None:
    _drive(robot, teleop, frames)


def _assert_moved(delta: np.ndarray, axis: int, amount: float) -> None:
    """The gripper frame moved ``amount`` (signed, m) along ``axis``, within 10 %, and little along the others."""
    assert delta[axis] == pytest.approx(amount, rel=0.1), delta
    others = np.delete(delta, axis)
    assert np.all(np.abs(others) < 0.15 * abs(amount)), delta


@pytest.fixture(scope="module")
def kb():
    """Synthetic keys; DISPLAY and pynput's backend choice are restored afterwards (MuJoCo picks its GL from DISPLAY)."""
    names = ("DISPLAY", "PYNPUT_BACKEND_KEYBOARD", "PYNPUT_BACKEND_MOUSE")
    saved = {k: os.environ.get(k) for k in names}
    yield synthetic_keyboard()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def ee_robot():
    robot = _robot(control_mode="ee_delta")
    yield robot
    robot.disconnect()


# ----------------------------------------------------------------------------- LeRobot's keyboard_ee
def test_lerobot_keyboard_ee_moves_gripper_frame_and_gripper(kb, ee_robot):
    from lerobot.teleoperators.keyboard import KeyboardEndEffectorTeleopConfig
    from lerobot.teleoperators.keyboard.teleop_keyboard import KeyboardEndEffectorTeleop

    teleop = KeyboardEndEffectorTeleop(KeyboardEndEffectorTeleopConfig())
    teleop.connect()
    try:
        assert teleop.is_connected  # its pynput listener runs (synthetic backend)
        kb.press("s")  # a character key reaches its queue through the listener callback
        time.sleep(0.05)
        assert teleop.event_queue.qsize() == 1
        teleop.event_queue.get_nowait()
        # LeRobot 0.4.4's listener callback keeps only character keys, so arrows/shift/ctrl are put on the
        # queue its get_action drains, one press event per frame as a key auto-repeats.
        key = kb.kb.Key
        for name, axis, sign in (("left", 0, +1), ("up", 1, -1), ("shift_r", 2, +1)):
            p0 = ee_robot.gripper_frame_position()
            _drive(ee_robot, teleop, 20, lambda n=name: teleop.event_queue.put((getattr(key, n), True)))
            teleop.event_queue.put((getattr(key, name), False))  # released (later LeRobot releases hold keys)
            _settle(ee_robot, teleop)
            _assert_moved(ee_robot.gripper_frame_position() - p0, axis, sign * 20 * EE_SPEED / FPS)
        g0 = ee_robot.get_observation()["gripper.pos"]
        _drive(ee_robot, teleop, 20, lambda: teleop.event_queue.put((key.ctrl_r, True)))
        teleop.event_queue.put((key.ctrl_r, False))
        opened = ee_robot.get_observation()["gripper.pos"]
        _drive(ee_robot, teleop, 30, lambda: teleop.event_queue.put((key.ctrl_l, True)))
        closed = ee_robot.get_observation()["gripper.pos"]
        assert opened > g0 + 40 and closed < 5, (g0, opened, closed)
    finally:
        teleop.disconnect()


# ----------------------------------------------------------------------------- LeRobot's gamepad
@pytest.fixture
def sdl_dummy(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    monkeypatch.setenv("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    yield pygame
    pygame.quit()


def test_lerobot_gamepad_moves_gripper_frame_and_gripper(sdl_dummy, ee_robot):
    from lerobot.teleoperators.gamepad import GamepadTeleop, GamepadTeleopConfig

    pygame = sdl_dummy
    teleop = GamepadTeleop(GamepadTeleopConfig())
    teleop.connect()  # pygame up, no pad found by SDL: give its controller the pad SDL would have opened
    pad = VirtualJoystick()
    teleop.gamepad.joystick = pad
    for axis_index, value, axis, sign in ((1, -1.0, 0, +1), (0, 1.0, 1, -1), (3, -1.0, 2, +1)):
        pad.axes = [0.0] * 6
        pad.axes[axis_index] = value  # left stick up / right, right stick up
        p0 = ee_robot.gripper_frame_position()
        _drive(ee_robot, teleop, 20)
        pad.axes = [0.0] * 6
        _settle(ee_robot, teleop)
        _assert_moved(ee_robot.gripper_frame_position() - p0, axis, sign * 20 * EE_SPEED / FPS)
    g0 = ee_robot.get_observation()["gripper.pos"]

    def button(kind, index):
        pygame.event.post(pygame.event.Event(kind, button=index, joy=0, instance_id=0))

    button(pygame.JOYBUTTONDOWN, 7)  # LeRobot's mapping: button 7 opens, 6 closes
    _drive(ee_robot, teleop, 20)
    opened = ee_robot.get_observation()["gripper.pos"]
    button(pygame.JOYBUTTONUP, 7)
    button(pygame.JOYBUTTONDOWN, 6)
    _drive(ee_robot, teleop, 30)
    closed = ee_robot.get_observation()["gripper.pos"]
    assert opened > g0 + 40 and closed < 5, (g0, opened, closed)
    teleop.disconnect()


# ----------------------------------------------------------------------------- ours: so101_keyboard_ee
def test_so101_keyboard_ee_through_the_listener_holds_keys(kb, ee_robot):
    from so101_sim.lerobot.teleop import SO101KeyboardEE, SO101KeyboardEEConfig

    teleop = SO101KeyboardEE(SO101KeyboardEEConfig())
    teleop.connect()
    try:
        # (Near the home pose the arm cannot reach 10 cm further in towards its base: -x is left out.)
        for name, axis, sign in (("down", 1, +1), ("up", 1, -1), ("shift_r", 2, +1), ("shift", 2, -1), ("left", 0, +1)):
            p0 = ee_robot.gripper_frame_position()
            kb.press(name)  # one press, held for 20 frames (no key repeat needed)
            time.sleep(0.05)
            _drive(ee_robot, teleop, 20)
            kb.release(name)
            time.sleep(0.05)
            _settle(ee_robot, teleop)
            _assert_moved(ee_robot.gripper_frame_position() - p0, axis, sign * 20 * EE_SPEED / FPS)
    finally:
        teleop.disconnect()


def test_ee_workspace_bounds_hold(ee_robot):
    """Commands past the documented workspace box stop at its face (docs/teleop.md)."""
    from so101_sim.mujoco.env import EE_WORKSPACE_HIGH

    for _ in range(90):  # 0.45 m of +z command: far past the box's top
        ee_robot.send_action({"delta_x": 0.0, "delta_y": 0.0, "delta_z": 1.0, "gripper": 1.0})
    target = ee_robot.env.unwrapped._ee_target_pos
    assert target[2] == pytest.approx(EE_WORKSPACE_HIGH[2])


# ----------------------------------------------------------------------------- ours: so101_keyboard (joint)
@pytest.fixture
def joint_robot():
    robot = _robot()
    yield robot
    robot.disconnect()


def test_so101_keyboard_key_map_moves_each_joint(kb, joint_robot):
    from so101_sim import adapters
    from so101_sim.lerobot.teleop import SO101Keyboard, SO101KeyboardConfig
    from so101_sim.lerobot.teleop.keymaps import JOINT_KEYS

    cfg = SO101KeyboardConfig()
    teleop = SO101Keyboard(cfg)
    teleop.connect()
    try:
        for key, (motor, sign) in JOINT_KEYS.items():
            if key in ("j", "l") or motor == "gripper":
                continue
            before = teleop.get_action()[f"{motor}.pos"]
            kb.press(key)
            time.sleep(0.05)
            _drive(joint_robot, teleop, 10)
            kb.release(key)
            time.sleep(0.05)
            after = teleop.get_action()[f"{motor}.pos"]
            assert after - before == pytest.approx(sign * 10 * cfg.joint_speed / FPS, rel=1e-6), key
        # The arm follows the goals.
        _settle(joint_robot, teleop, 20)
        goal = adapters.motor_dict_to_vector(teleop.get_action())
        state = adapters.motor_dict_to_vector(joint_robot.get_observation())
        assert np.abs(goal - state)[:5].max() < 2.0
        # Q opens, E closes the gripper.
        g0 = joint_robot.get_observation()["gripper.pos"]
        kb.press("q")
        time.sleep(0.05)
        _drive(joint_robot, teleop, 20)
        kb.release("q")
        opened = joint_robot.get_observation()["gripper.pos"]
        kb.press("e")
        time.sleep(0.05)
        _drive(joint_robot, teleop, 30)
        kb.release("e")
        closed = joint_robot.get_observation()["gripper.pos"]
        assert opened > g0 + 40 and closed < 5, (g0, opened, closed)
    finally:
        teleop.disconnect()


def test_so101_keyboard_space_stops_r_resets_esc_quits(kb, joint_robot):
    from so101_sim.lerobot.teleop import SO101Keyboard, SO101KeyboardConfig

    teleop = SO101Keyboard(SO101KeyboardConfig())
    teleop.connect()
    try:
        start = teleop.get_action()["shoulder_lift.pos"]
        for key in ("space", "w"):
            kb.press(key)
        time.sleep(0.05)
        _drive(joint_robot, teleop, 5)
        assert teleop.paused and teleop.get_action()["shoulder_lift.pos"] == start  # stopped: holds
        kb.release("space")
        kb.press("space")  # start again: W still held moves
        time.sleep(0.05)
        _drive(joint_robot, teleop, 5)
        assert not teleop.paused and teleop.get_action()["shoulder_lift.pos"] > start
        kb.release("w")
        kb.release("space")
        episode, cube = joint_robot.episode, joint_robot.sim_observation["environment_state"][:3].copy()
        kb.press("r")
        time.sleep(0.05)
        _drive(joint_robot, teleop, 2)
        kb.release("r")
        assert joint_robot.episode == episode + 1
        assert np.linalg.norm(joint_robot.sim_observation["environment_state"][:3] - cube) > 1e-3  # cube re-placed
        kb.press("esc")
        kb.press("w")
        time.sleep(0.05)
        held = teleop.get_action()
        _drive(joint_robot, teleop, 5)
        assert teleop.quit and teleop.get_action() == held
    finally:
        teleop.disconnect()


def test_record_keys_reset_the_scene_when_asked(kb):
    """--robot.reset_on_record_keys: lerobot-record's right/left arrows also give the next take a fresh scene."""
    robot = _robot(reset_on_record_keys=True)
    try:
        for name in ("right", "left"):
            episode = robot.episode
            kb.press(name)
            kb.release(name)
            time.sleep(0.05)
            robot.send_action({"shoulder_pan.pos": 0.0})
            assert robot.episode == episode + 1, name
        kb.press("up")  # any other key: no reset
        time.sleep(0.05)
        robot.send_action({"shoulder_pan.pos": 0.0})
        assert robot.episode == episode + 1
    finally:
        robot.disconnect()
    from so101_sim.lerobot.robot import SO101SimConfig

    assert SO101SimConfig().reset_on_record_keys is False  # so101_keyboard's arrows move the arm


def test_key_script_errors_name_file_and_entry(tmp_path):
    from so101_sim.lerobot.teleop.keyboard import load_key_script

    bad = tmp_path / "keys.json"
    bad.write_text(json.dumps([["w", 1.0], ["q", -2]]))
    with pytest.raises(ValueError, match=r"keys\.json: entry 1 .*seconds >= 0"):
        load_key_script(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match="keys.json: cannot read JSON"):
        load_key_script(bad)


def test_keyboard_without_display_names_the_alternatives(monkeypatch):
    """With no desktop session pynput cannot start: connect() says what to use instead."""
    from lerobot.utils.errors import DeviceNotConnectedError

    from so101_sim.lerobot.teleop import SO101Keyboard, SO101KeyboardConfig

    teleop = SO101Keyboard(SO101KeyboardConfig())
    monkeypatch.setitem(sys.modules, "pynput", None)  # what a machine without X11 gives: import pynput fails
    with pytest.raises(DeviceNotConnectedError, match="key_script"):
        teleop.connect()


# ----------------------------------------------------------------------------- ours: so101_gamepad
def test_so101_gamepad_layouts_drive_joints_and_buttons(sdl_dummy, joint_robot):
    from so101_sim.lerobot.teleop import SO101Gamepad, SO101GamepadConfig
    from so101_sim.lerobot.teleop.keymaps import PAD_LAYOUTS

    for layout in ("xbox", "dualshock"):
        cfg = SO101GamepadConfig(layout=layout)
        lay = PAD_LAYOUTS[layout]
        teleop = SO101Gamepad(cfg)
        pad = teleop.joystick = VirtualJoystick(n_buttons=11)  # what connect() opens on a real pad
        pad.axes[lay.left_trigger] = pad.axes[lay.right_trigger] = -1.0  # triggers at rest
        start = teleop.get_action()
        pad.axes[lay.left_y] = -1.0  # left stick fully up: shoulder_lift +
        _drive(joint_robot, teleop, 10)
        pad.axes[lay.left_y] = 0.0
        moved = teleop.get_action()
        assert moved["shoulder_lift.pos"] - start["shoulder_lift.pos"] == pytest.approx(10 * cfg.joint_speed / FPS)
        assert moved["shoulder_pan.pos"] == start["shoulder_pan.pos"]
        pad.buttons[lay.right_bumper] = 1  # wrist_flex +
        _drive(joint_robot, teleop, 3)
        pad.buttons[lay.right_bumper] = 0
        assert teleop.get_action()["wrist_flex.pos"] > moved["wrist_flex.pos"]
        pad.axes[lay.right_trigger] = 1.0  # open
        g0 = joint_robot.get_observation()["gripper.pos"]
        _drive(joint_robot, teleop, 20)
        pad.axes[lay.right_trigger] = -1.0
        assert joint_robot.get_observation()["gripper.pos"] > g0 + 40
        episode = joint_robot.episode
        pad.buttons[lay.east] = 1  # reset
        _drive(joint_robot, teleop, 2)
        pad.buttons[lay.east] = 0
        assert joint_robot.episode == episode + 1
        pad.buttons[lay.south] = 1  # stop: sticks ignored
        _drive(joint_robot, teleop, 1)
        pad.axes[lay.left_x] = 1.0
        held = teleop.get_action()
        _drive(joint_robot, teleop, 3)
        assert teleop.paused and teleop.get_action() == held
        pad.buttons[lay.south] = 0


def test_so101_gamepad_without_pad_says_so(sdl_dummy):
    from lerobot.utils.errors import DeviceNotConnectedError

    from so101_sim.lerobot.teleop import SO101Gamepad, SO101GamepadConfig

    with pytest.raises(DeviceNotConnectedError, match="no gamepad at index 0"):
        SO101Gamepad(SO101GamepadConfig()).connect()
    with pytest.raises(ValueError, match="layout must be one of"):
        SO101Gamepad(SO101GamepadConfig(layout="n64"))


# ----------------------------------------------------------------------------- timing: 10, 15, 30 fps
@pytest.mark.parametrize("fps", [10, 15, 30])
def test_recording_rate_gives_motion_per_sim_second(tmp_path, fps):
    """lerobot-record's loop at ``fps`` with the robot at ``fps``: timestamps step 1/fps and the arm moves
    ``joint_speed`` per simulated second, so per-frame motion is joint_speed / fps at every rate."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.processor import make_default_processors
    from lerobot.scripts.lerobot_record import record_loop

    from so101_sim.lerobot.teleop import SO101Keyboard, SO101KeyboardConfig

    script = tmp_path / "keys.json"
    script.write_text(json.dumps([["", 0.2], ["w", 0.8], ["", 0.4]]))
    robot = _robot(fps=fps)
    cfg = SO101KeyboardConfig(key_script=str(script))
    teleop = SO101Keyboard(cfg)
    teleop.connect()
    features = {
        **hw_to_dataset_features(robot.action_features, "action"),
        **hw_to_dataset_features(robot.observation_features, "observation"),
    }
    ds = LeRobotDataset.create("local/rate", fps, features=features, root=tmp_path / "ds", use_videos=False)
    events = {"exit_early": False, "rerecord_episode": False, "stop_recording": False}
    procs = make_default_processors()
    record_loop(robot, events, fps, *procs, dataset=ds, teleop=teleop, control_time_s=1.5, single_task="t")
    sim_time = robot.env.unwrapped.data.time
    ds.save_episode()
    ds.finalize()
    robot.disconnect()

    data = LeRobotDataset("local/rate", root=tmp_path / "ds")
    n = len(data)
    ts = np.array([float(data[i]["timestamp"]) for i in range(n)])
    lift = np.array([float(data[i]["observation.state"][1]) for i in range(n)])
    goal = np.array([float(data[i]["action"][1]) for i in range(n)])
    assert np.allclose(np.diff(ts), 1.0 / fps, atol=1e-4)  # dataset time per frame ...
    assert sim_time == pytest.approx(n / fps, abs=1e-9)  # ... is simulated time per frame
    assert n >= round(1.2 * fps)  # the key script's W hold and the settling after it were recorded
    a, b = round(0.2 * fps), round(1.2 * fps)  # from the start of the W hold to 0.2 s after its end
    assert np.diff(goal)[a + 1] == pytest.approx(cfg.joint_speed / fps, rel=1e-5)  # commanded per frame
    # The arm's mean per-frame motion over the hold is the speed times the simulated time per frame.
    assert (lift[b] - lift[a]) / (b - a) == pytest.approx(0.8 * cfg.joint_speed / fps, rel=0.05)


def test_record_loop_in_ee_mode_stores_lerobot_ee_commands(tmp_path):
    """lerobot-record's loop with an end-effector teleoperator: the action feature is LeRobot's EE command."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.processor import make_default_processors
    from lerobot.scripts.lerobot_record import record_loop

    from so101_sim.lerobot.teleop import SO101KeyboardEE, SO101KeyboardEEConfig

    script = tmp_path / "keys.json"
    script.write_text(json.dumps([["shift_r+ctrl_r", 0.6], ["", 0.3]]))
    robot = _robot(control_mode="ee_delta", fps=15)
    teleop = SO101KeyboardEE(SO101KeyboardEEConfig(key_script=str(script)))
    teleop.connect()
    features = {
        **hw_to_dataset_features(robot.action_features, "action"),
        **hw_to_dataset_features(robot.observation_features, "observation"),
    }
    ds = LeRobotDataset.create("local/ee", 15, features=features, root=tmp_path / "ds", use_videos=False)
    events = {"exit_early": False, "rerecord_episode": False, "stop_recording": False}
    z0 = robot.gripper_frame_position()[2]
    record_loop(robot, events, 15, *make_default_processors(), dataset=ds, teleop=teleop, control_time_s=1.0,
                single_task="t")  # fmt: skip
    dz = robot.gripper_frame_position()[2] - z0
    ds.save_episode()
    ds.finalize()
    robot.disconnect()
    data = LeRobotDataset("local/ee", root=tmp_path / "ds")
    assert data.features["action"]["names"] == ["delta_x", "delta_y", "delta_z", "gripper"]
    first = data[0]["action"].numpy()
    assert first.tolist() == [0.0, 0.0, 1.0, 2.0]  # up, open
    assert dz == pytest.approx(0.6 * EE_SPEED, rel=0.1)  # 9 frames x 1/15 s x 0.15 m/s
    assert float(data[len(data) - 1]["observation.state"][5]) > 60  # opened


# ----------------------------------------------------------------------------- lerobot-record, end to end
def test_lerobot_record_driven_by_key_script_moves_the_arm(tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot_cli import run_cli

    script = tmp_path / "keys.json"
    # 1.1 s of keys (17 frames at 15 fps): played in full even if this shared machine records at half rate.
    script.write_text(json.dumps([["w+q", 0.4], ["k", 0.4], ["e", 0.3]]))
    root = tmp_path / "rec"
    run_cli(
        "lerobot-record", "--robot.type=so101_sim", "--robot.cameras=[camera1]", "--robot.image_height=48",
        "--robot.image_width=64", "--robot.real_time=false", "--robot.fps=15", "--teleop.type=so101_keyboard",
        f"--teleop.key_script={script}", "--dataset.repo_id=local/kb_rec", f"--dataset.root={root}",
        "--dataset.fps=15", "--dataset.num_episodes=1", "--dataset.episode_time_s=3", "--dataset.reset_time_s=0",
        "--dataset.single_task=Pick up the red cube.", "--dataset.push_to_hub=false", "--display_data=false",
        "--play_sounds=false", cwd=tmp_path, env={"DISPLAY": ""},
    )  # fmt: skip
    ds = LeRobotDataset("local/kb_rec", root=root, video_backend="pyav")
    assert ds.num_episodes == 1 and ds.fps == 15
    states = np.stack([ds[i]["observation.state"].numpy() for i in range(len(ds))])
    actions = np.stack([ds[i]["action"].numpy() for i in range(len(ds))])
    assert len(ds) >= 20, len(ds)
    assert states[-1, 1] - states[0, 1] > 12  # W: shoulder_lift + (0.4 s at 45 deg/s = 18 degrees)
    assert states[-1, 2] - states[0, 2] < -12  # K: elbow_flex - (I, +, would press the jaws into the table)
    assert states[:, 5].max() > states[0, 5] + 25  # Q opened the gripper (40 units) ...
    assert states[-1, 5] < states[:, 5].max() - 15  # ... and E closed it again (30 units)
    assert np.ptp(actions[:, 1]) > 12  # the recorded actions are the keyboard's joint goals
    assert ds[0]["observation.images.camera1"].shape == (3, 48, 64)
    assert os.path.getsize(root / "meta" / "info.json") > 0


# ----------------------------------------------------------------------------- documented defaults
def _doc_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_OURS = {"id", "calibration_dir"}


@pytest.mark.parametrize(
    ("page", "config_path", "fields"),
    [
        ("teleop.md", "so101_sim.lerobot.robot:SO101SimConfig", None),
        ("teleop_keyboard.md", "so101_sim.lerobot.teleop:SO101KeyboardConfig", None),
        ("teleop_keyboard.md", "so101_sim.lerobot.teleop:SO101KeyboardEEConfig", None),
        ("teleop_gamepad.md", "so101_sim.lerobot.teleop:SO101GamepadConfig", None),
        # LeRobot's own classes: the options our pages describe (later releases add more)
        ("teleop_keyboard.md", "lerobot.teleoperators.keyboard:KeyboardEndEffectorTeleopConfig", {"use_gripper"}),
        ("teleop_gamepad.md", "lerobot.teleoperators.gamepad:GamepadTeleopConfig", {"use_gripper"}),
    ],
)
def test_each_devices_defaults_are_documented(page, config_path, fields):
    import dataclasses
    import importlib
    from pathlib import Path

    module, name = config_path.split(":")
    cls = getattr(importlib.import_module(module), name)
    text = (Path(__file__).resolve().parents[1] / "docs" / page).read_text()
    skip = _OURS | ({"cameras", "camera_names"} if name == "SO101SimConfig" else set())
    chosen = [f for f in dataclasses.fields(cls) if (f.name in fields if fields else f.name not in skip)]
    assert len(chosen) == len(fields or chosen)
    for f in chosen:
        assert f.default is not dataclasses.MISSING, f"{name}.{f.name} has no plain default to document"
        row = f"| `{f.name}` | `{_doc_value(f.default)}` |"
        assert row in text, f"docs/{page} should document {name}.{f.name} as: {row}"


def test_key_maps_are_documented():
    from pathlib import Path

    from so101_sim.lerobot.teleop.keymaps import JOINT_KEYS, PAD_LAYOUTS

    docs = Path(__file__).resolve().parents[1] / "docs"
    keyboard = (docs / "teleop_keyboard.md").read_text()
    arrows = {"left": "←", "right": "→"}
    pairs = {}
    for key, (motor, sign) in JOINT_KEYS.items():
        pairs.setdefault(motor, {})[sign] = arrows.get(key, key.upper())
    rows = [line for line in keyboard.splitlines() if line.startswith("| `")]
    for motor, keys in pairs.items():
        doc_rows = [r for r in rows if f"| `{motor}`" in r]
        assert any(f"`{keys[+1]}` / `{keys[-1]}`" in r for r in doc_rows), (motor, keys)
    gamepad = (docs / "teleop_gamepad.md").read_text()
    for lay in PAD_LAYOUTS.values():
        row = (f"| `{lay.name}` | axes {lay.left_x}, {lay.left_y}, {lay.right_x}, {lay.right_y} | axes "
               f"{lay.left_trigger}, {lay.right_trigger} | buttons {lay.left_bumper}, {lay.right_bumper} | buttons "
               f"{lay.south}, {lay.east}, {lay.start} |")  # fmt: skip
        assert row in gamepad, row
