"""The simulated SO-101 robot as LeRobot code sees it: strict actions, connection errors, safety caps, timing."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
from lerobot.utils.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError


def _config(**kw):
    from so101_sim.lerobot.robot import SO101SimConfig

    return SO101SimConfig(cameras=[], real_time=False, **kw)


@pytest.fixture
def robot():
    from so101_sim.lerobot.robot import SO101Sim

    r = SO101Sim(_config())
    r.connect()
    yield r
    if r.is_connected:
        r.disconnect()


def test_unknown_action_keys_raise_naming_expected_keys(robot):
    with pytest.raises(
        ValueError, match=r"\['delta_x', 'delta_y', 'delta_z'\].*shoulder_pan\.pos.*control_mode=ee_delta"
    ):
        robot.send_action({"delta_x": 1.0, "delta_y": 0.0, "delta_z": 0.0})
    with pytest.raises(ValueError, match=r"\['elbow'\] it does not know; expected \['shoulder_pan\.pos'"):
        robot.send_action({"shoulder_pan.pos": 0.0, "elbow": 3.0})
    robot.send_action({"shoulder_pan.pos": 5.0})  # a subset of motors is a valid bus write


def test_ee_mode_rejects_joint_keys_and_bad_gripper_commands():
    from so101_sim.lerobot.robot import SO101Sim

    r = SO101Sim(_config(control_mode="ee_delta"))
    r.connect()
    try:
        assert list(r.action_features) == ["delta_x", "delta_y", "delta_z", "gripper"]
        with pytest.raises(
            ValueError, match=r"expected \['delta_x', 'delta_y', 'delta_z', 'gripper'\].*control_mode=joint"
        ):
            r.send_action({"shoulder_pan.pos": 1.0})
        with pytest.raises(ValueError, match=r"gripper command must be in \[0, 2\]"):
            r.send_action({"delta_x": 0.0, "delta_y": 0.0, "delta_z": 0.0, "gripper": 5})
        with pytest.raises(ValueError, match="missing \\['delta_z'\\]"):
            r.send_action({"delta_x": 0.0, "delta_y": 0.0})
    finally:
        r.disconnect()


def test_second_connect_raises_and_keeps_one_env(robot):
    env = robot.env
    with pytest.raises(DeviceAlreadyConnectedError):
        robot.connect()
    assert robot.env is env and robot.is_connected
    robot.disconnect()
    with pytest.raises(DeviceNotConnectedError):
        robot.get_observation()
    with pytest.raises(DeviceNotConnectedError):
        robot.send_action({"shoulder_pan.pos": 0.0})
    with pytest.raises(DeviceNotConnectedError):
        robot.disconnect()


def test_collected_robot_does_not_unregister_its_successor():
    """LeRobot's Robot.__del__ disconnects; an old robot must not take the new one out of the registry."""
    from so101_sim.lerobot.robot import SO101Sim
    from so101_sim.lerobot.robot.so101_sim import connected_sim_robot

    old = SO101Sim(_config())
    old.connect()
    new = SO101Sim(_config())
    new.connect()
    del old
    gc.collect()
    assert connected_sim_robot() is new
    new.disconnect()


def test_max_relative_target_per_motor_dict_like_so101_follower(robot):
    from so101_sim.lerobot.robot import SO101Sim

    caps = {"shoulder_pan": 1.0, "shoulder_lift": 50.0, "elbow_flex": 50.0, "wrist_flex": 50.0,
            "wrist_roll": 50.0, "gripper": 50.0}  # fmt: skip
    r = SO101Sim(_config(max_relative_target=caps))
    r.connect()
    try:
        present = r.get_observation()
        sent = r.send_action(
            {
                "shoulder_pan.pos": present["shoulder_pan.pos"] + 10,
                "shoulder_lift.pos": present["shoulder_lift.pos"] + 10,
            }
        )
        assert sent["shoulder_pan.pos"] == pytest.approx(present["shoulder_pan.pos"] + 1.0)
        assert sent["shoulder_lift.pos"] == pytest.approx(present["shoulder_lift.pos"] + 10)
        assert set(sent) == {"shoulder_pan.pos", "shoulder_lift.pos"}
    finally:
        r.disconnect()
    assert _config(max_relative_target=5).max_relative_target == 5.0  # an int works (lerobot wants float)
    with pytest.raises(ValueError, match=r"must name every motor exactly once: expected keys \['elbow_flex'"):
        _config(max_relative_target={"shoulder_pan": 1.0})
    with pytest.raises(ValueError, match="needs control_mode='joint'"):
        _config(max_relative_target=5.0, control_mode="ee_delta")


@pytest.mark.parametrize("fps", [10, 15, 30])
def test_one_action_advances_one_frame_of_sim_time(fps):
    from so101_sim.lerobot.robot import SO101Sim

    r = SO101Sim(_config(fps=fps))
    r.connect()
    try:
        t0 = r.env.unwrapped.data.time
        for _ in range(3):
            r.send_action({"shoulder_pan.pos": 0.0})
        assert r.env.unwrapped.data.time - t0 == pytest.approx(3 / fps, abs=1e-9)
        assert all(cam.fps == fps for cam in r.cameras.values())
    finally:
        r.disconnect()


def test_fps_the_physics_cannot_honour_is_refused():
    from so101_sim.lerobot.robot import SO101Sim

    r = SO101Sim(_config(fps=25))
    with pytest.raises(
        ValueError, match=r"cannot run the simulation at 25 Hz.*\[240, 120, 80, 60, 48, 40, 30, 24, 20, 16, 15, 12, 10"
    ):
        r.connect()
    assert not r.is_connected


def test_env_keeps_task_durations_in_seconds_at_other_rates():
    import gymnasium as gym

    import so101_sim  # noqa: F401

    slow = gym.make("so101_sim/Lift-v0", cameras=(), control_hz=10)
    assert slow.unwrapped._max_episode_steps == 100  # Lift: 300 steps at 30 Hz = 10 s
    assert slow.unwrapped.metadata["render_fps"] == 10 and slow.unwrapped.control_dt == pytest.approx(0.1)
    slow.close()


def test_hold_keeps_home_pose_headless(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "so101_sim.cli", "hold", "--no-viewer", "--seconds", "2"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    import json

    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["sim_seconds"] >= 2.0
    assert report["max_joint_error"] < 2.0  # degrees: the servos hold the arm against gravity


@pytest.mark.parametrize("command", ["view", "hold"])
def test_viewer_commands_explain_a_missing_display(tmp_path, command):
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run(
        [sys.executable, "-m", "so101_sim.cli", command], capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
        env=env,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "needs a screen: no display" in proc.stderr and "so101-sim rollout --video" in proc.stderr


def test_viewer_option_explains_a_missing_display(monkeypatch):
    from so101_sim.lerobot.robot import SO101Sim

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    r = SO101Sim(_config(viewer=True))
    with pytest.raises(DeviceNotConnectedError, match="needs a screen: no display"):
        r.connect()
    assert not r.is_connected


def test_dataset_fps_on_the_command_line_must_match_the_robot(monkeypatch):
    from so101_sim.lerobot.robot import SO101Sim
    from so101_sim.lerobot.robot.so101_sim import recording_fps_from_command_line

    assert recording_fps_from_command_line(["--dataset.fps", "15", "--robot.fps=15"]) == 15
    assert recording_fps_from_command_line(["--robot.fps=15"]) is None
    monkeypatch.setattr(sys, "argv", ["lerobot-record", "--robot.type=so101_sim", "--dataset.fps=15"])
    r = SO101Sim(_config())
    with pytest.raises(ValueError, match=r"--dataset.fps=15 but each frame would advance the simulation by 1/30 s"):
        r.connect()
    assert not r.is_connected
    r = SO101Sim(_config(fps=15))
    r.connect()
    r.disconnect()
