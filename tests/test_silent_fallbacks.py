"""Each former silent fallback now raises or warns, naming the fix (issue 10). Converter cases (instruction,
frame rate, dropped frames) are in test_converter.py; these are the rest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import so101_sim  # noqa: F401 - registers the gym ids


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


# --- scripted policy: an instruction it does not know is an error, not the Lift script ----------------------


def test_scripted_policy_refuses_an_unknown_instruction_and_runs_a_named_task():
    import torch

    from so101_sim.lerobot.policy.configuration_so101_scripted import SO101ScriptedConfig
    from so101_sim.lerobot.policy.modeling_so101_scripted import SO101ScriptedPolicy

    env = gym.make("so101_sim/PickPlace-v0", cameras=())
    obs, _ = env.reset(seed=0)
    env.close()
    batch = {
        "observation.state": torch.as_tensor(obs["agent_pos"], dtype=torch.float32)[None],
        "observation.environment_state": torch.as_tensor(obs["environment_state"], dtype=torch.float32)[None],
        "task": ["Grab the block and drop it in the zone."],
    }
    auto = SO101ScriptedPolicy(SO101ScriptedConfig(device="cpu"))
    with pytest.raises(ValueError, match=r"'Grab the block and drop it in the zone\.'.*--policy\.task=Lift-v0"):
        auto.select_action(batch)
    with pytest.raises(KeyError, match="no 'task'"):
        auto.select_action({k: v for k, v in batch.items() if k != "task"})
    named = SO101ScriptedPolicy(SO101ScriptedConfig(device="cpu", task="PickPlace-v0"))
    assert named.select_action(batch).shape == (1, 6)
    assert named._experts[0].task.name == "PickPlace-v0"
    known = dict(batch, task=["Put the red cube in the green zone."])
    auto.select_action(known)
    assert auto._experts[0].task.name == "PickPlace-v0"


# --- pick-place zone sampling never falls through with a zone too close to the cube ---------------------------


def test_pickplace_zone_sampler_raises_instead_of_falling_through():
    import dataclasses

    from so101_sim.tasks import get_task, sample_layout

    cramped = dataclasses.replace(get_task("PickPlace-v0"), cube_x=(0.20, 0.21), cube_y=(0.0, 0.01))
    with pytest.raises(RuntimeError, match="no target zone at least 0.08 m from the cube"):
        sample_layout(cramped, np.random.default_rng(0))
    layout = sample_layout(get_task("PickPlace-v0"), np.random.default_rng(0))
    assert np.hypot(*(layout.target[:2] - layout.cube_pos[:2])) >= 0.08


# --- videos: a run that raised never publishes its partial file ---------------------------------------------


def test_partial_video_is_discarded_after_an_exception(tmp_path):
    from so101_sim.rollout import run_episodes

    video = tmp_path / "rollout.mp4"
    video.write_bytes(b"an earlier, complete video")
    env = gym.make("so101_sim/Reach-v0", cameras=("camera1",), image_size=32)
    steps = 0

    def failing_policy(obs):
        nonlocal steps
        steps += 1
        if steps == 5:
            raise RuntimeError("policy crashed")
        return np.asarray(obs["agent_pos"], dtype=np.float32)

    try:
        with pytest.raises(RuntimeError, match="policy crashed"):
            run_episodes(env, failing_policy, episodes=1, video=video)
        assert video.read_bytes() == b"an earlier, complete video"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["rollout.mp4"]  # no partial left either
        steps = -10**9  # now it runs to the end: the video is published
        run_episodes(env, failing_policy, episodes=1, video=video)
    finally:
        env.close()
    assert video.stat().st_size > 1000 and video.read_bytes()[4:8] == b"ftyp"


# --- record-demos checks every episode's video length (the converter's check, shared) ------------------------


def test_record_demos_stops_on_dropped_video_frames(tmp_path, monkeypatch):
    """The check itself runs on real lerobot metadata in test_converter.py; here: record-demos calls it after
    every saved episode, stops naming the fix, and publishes nothing."""
    import so101_sim.convert.converter as converter
    from so101_sim.record_demos import DroppedFramesError, RecordOptions, record_demos

    seen = []

    def shortfall(dataset, video_keys, expected, fps):
        seen.append((list(video_keys), expected, fps))
        return [f"the video of '{video_keys[0]}' holds {expected - 3} frames, expected {expected}"]

    monkeypatch.setattr(converter, "video_frame_shortfall", shortfall)
    root = tmp_path / "reach"
    with pytest.raises(DroppedFramesError, match=r"episode 0: the video of 'observation.images.camera1'.*--images"):
        record_demos(RecordOptions(task="Reach-v0", episodes=1, repo_id="local/reach", root=root,
                                   cameras=("camera1",), image_size=32, progress=False))  # fmt: skip
    assert seen and seen[0][0] == ["observation.images.camera1"] and seen[0][1] > 0 and seen[0][2] == 30
    assert not root.exists() and list(tmp_path.iterdir()) == []


# --- LeRobot plugins: an import error is logged at ERROR with its cause, and raised ---------------------------


@pytest.mark.parametrize(
    "plugin, blocked, lost",
    [
        ("lerobot_policy_so101", "so101_sim.lerobot", "--policy.type=so101_scripted are NOT registered"),
        ("lerobot_robot_so101_sim", "so101_sim.lerobot.robot", "--robot.type=so101_sim and"),
    ],
)
def test_plugin_import_error_is_loud(plugin, blocked, lost):
    done = _python(f"""
        import logging, sys
        logging.basicConfig(level=logging.WARNING)
        sys.modules[{blocked!r}] = None  # what a broken install looks like to the import system
        import {plugin}
    """)
    assert done.returncode != 0
    assert f"ERROR:{plugin}:{plugin}: importing {blocked} failed (ModuleNotFoundError" in done.stderr, done.stderr
    assert lost in done.stderr and "Traceback" in done.stderr


def test_serving_a_policy_type_reports_a_broken_project_install_loudly():
    """``so101-sim serve`` registers the project's policy types as the plugins do: ERROR with the cause, then raise
    (it used to log at DEBUG and go on, ending in "unknown policy type")."""
    done = _python("""
        import logging, sys
        logging.basicConfig(level=logging.WARNING)
        sys.modules["so101_sim.lerobot"] = None
        from so101_sim.serving.lerobot_policy import load_policy
        load_policy(policy_type="so101_scripted", cameras=[])
    """)
    assert done.returncode != 0
    name = "so101_sim.serving.lerobot_policy"
    assert f"ERROR:{name}:{name}: importing so101_sim.lerobot failed (ModuleNotFoundError" in done.stderr, done.stderr
    assert "--policy.type=so101_scripted/flow_mlp are NOT registered" in done.stderr and "Traceback" in done.stderr


# --- env type 'so101' taken by another package (lerobot-env-so101 registers it too) ---------------------------


def test_env_type_survives_another_package_registering_so101():
    done = _python("""
        import logging
        from dataclasses import dataclass
        logging.basicConfig(level=logging.WARNING)
        import draccus
        from lerobot.envs.configs import EnvConfig

        @EnvConfig.register_subclass("so101")  # as lerobot_env_so101 0.4.0 (configuration_so101.py) does
        @dataclass
        class SO101Env(EnvConfig):
            task: str | None = "SO101PickCube-v0"

            @property
            def gym_kwargs(self):
                return {}

        import lerobot_policy_so101  # ours, imported second: must not lose its registrations
        from so101_sim.lerobot.env_config import SO101EnvConfig

        assert EnvConfig.get_choice_class("so101") is SO101Env
        assert EnvConfig.get_choice_class("so101_sim") is SO101EnvConfig
        assert "hub" in EnvConfig.get_known_choices()

        @dataclass
        class Cli:
            env: EnvConfig

        cfg = draccus.parse(Cli, args=["--env.type=so101_sim", "--env.task=Reach-v0", "--env.cameras=[]"])
        assert isinstance(cfg.env, SO101EnvConfig) and cfg.env.task == "Reach-v0"
        print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert "env type 'so101' is already registered by __main__.SO101Env" in done.stderr
    assert "--env.type=so101_sim" in done.stderr


def test_both_env_type_names_select_this_env_when_so101_is_free():
    from lerobot.envs.configs import EnvConfig

    from so101_sim.lerobot.env_config import SO101EnvConfig

    assert EnvConfig.get_choice_class("so101") is SO101EnvConfig
    assert EnvConfig.get_choice_class("so101_sim") is SO101EnvConfig
    assert SO101EnvConfig().type == "so101"  # saved configs keep the short name


# --- MuJoCo writes no MUJOCO_LOG.TXT into the working directory ----------------------------------------------


def test_mujoco_warnings_go_to_logging_not_to_a_log_file(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent("""
            import logging
            logging.basicConfig(level=logging.DEBUG)
            import mujoco
            import so101_sim.mujoco.scene as scene
            scene.build_model()  # attaches with an empty prefix: MuJoCo warns
            model = mujoco.MjModel.from_xml_string(
                "<mujoco><worldbody><body><freejoint/><geom size='0.1'/></body></worldbody></mujoco>")
            data = mujoco.MjData(model)
            data.qvel[:] = float("nan")
            mujoco.mj_step(model, data)  # an unstable simulation: MuJoCo warns again
        """)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "DEBUG:so101_sim.mujoco:MuJoCo: " in done.stderr and "empty prefix" in done.stderr
    assert "WARNING:so101_sim.mujoco:MuJoCo: Nan, Inf or huge value" in done.stderr, done.stderr
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
