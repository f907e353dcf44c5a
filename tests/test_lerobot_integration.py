"""Stock lerobot 0.4.4 commands over the simulation: lerobot-eval, EnvHub, lerobot-train, lerobot-record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lerobot_cli import run_cli

from so101_sim.lerobot.compat import TRAIN_ENV_EVAL_FREQ

SMALL_ENV = ["--env.image_size=48"]


def _eval_info(out: Path) -> dict:
    return json.loads((out / "eval_info.json").read_text())


def test_lerobot_eval_scripted_policy(tmp_path):
    out = tmp_path / "eval"
    run_cli(
        "lerobot-eval", "--env.type=so101", "--env.task=Lift-v0", "--policy.type=so101_scripted",
        "--eval.n_episodes=4", "--eval.batch_size=2", *SMALL_ENV, f"--output_dir={out}", cwd=tmp_path,
    )  # fmt: skip
    info = _eval_info(out)
    assert info["overall"]["pc_success"] >= 90
    assert info["overall"]["n_episodes"] == 4
    videos = list((out / "videos").rglob("*.mp4"))
    assert len(videos) == 4 and all(v.stat().st_size > 1000 for v in videos)


def _populate_hub_cache(hf_home: Path, repo: str) -> str:
    """What huggingface_hub leaves after downloading our env.py from a model repo."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    org, name = repo.split("/")
    snap = hf_home / "hub" / f"models--{org}--{name}" / "snapshots" / sha
    snap.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "env.py", snap / "env.py")
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text(sha)
    return sha


def test_envhub_offline_through_hub_env_type(tmp_path):
    """Sync only: the async EnvHub route is test_so101_env_type_async_through_envhub_loader's (same loader)."""
    hf_home = tmp_path / "hf"
    _populate_hub_cache(hf_home, "so101-test/sim-env")
    out = tmp_path / "eval"
    run_cli(
        "lerobot-eval", "--env.type=hub", "--env.repo=so101-test/sim-env", "--trust_remote_code=true",
        "--policy.type=so101_scripted", "--eval.n_episodes=2", "--eval.batch_size=2",
        "--eval.use_async_envs=false", "--env.cameras=[camera1]", "--env.image_size=48",
        f"--output_dir={out}", cwd=tmp_path, env={"HF_HOME": str(hf_home)},
    )  # fmt: skip
    info = _eval_info(out)
    assert info["overall"]["pc_success"] == 100.0
    assert len(list((out / "videos").rglob("*.mp4"))) == 2


def test_envhub_refuses_without_trust():
    """The ``hub`` env type goes through LeRobot's own loader, consent check included (in-process: the CLI only
    forwards ``--trust_remote_code``, and a lerobot-eval start costs more than the rest of this test)."""
    from lerobot.envs.factory import make_env

    from so101_sim.lerobot.hub_env import HubEnv

    with pytest.raises(RuntimeError, match="Refusing to execute remote code"):
        make_env(HubEnv(repo="so101-test/sim-env"), n_envs=1, trust_remote_code=False)


def test_env_py_make_env_contract():
    """env.py alone: the {suite: {task: VectorEnv}} result, SAME_STEP success, features filled on the cfg."""
    import importlib.util

    import gymnasium as gym

    from so101_sim.lerobot.hub_env import HubEnv

    spec = importlib.util.spec_from_file_location("hub_env_py", Path(__file__).resolve().parents[1] / "env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = HubEnv(repo="x/y", cameras=[], task="Reach-v0", env_state_dim=None)
    envs = module.make_env(n_envs=2, use_async_envs=False, cfg=cfg)
    vec = envs["so101"]["Reach-v0"]
    assert isinstance(vec, gym.vector.VectorEnv) and vec.num_envs == 2
    assert cfg.features["environment_state"].shape == (13,) and "pixels/camera1" not in cfg.features
    assert vec.call("task_description") == ("Move the gripper to the green target.",) * 2
    vec.close()


def test_async_vector_env_exposes_task_to_lerobot():
    from lerobot.envs.utils import check_env_attributes_and_types, preprocess_observation

    from so101_sim.env_lerobot import LeRobotAsyncVectorEnv, make_vector_env
    from so101_sim.lerobot.compat import add_envs_task

    vec = make_vector_env("PickPlace-v0", 2, use_async=True, cameras=("camera1",), image_size=32)
    try:
        assert isinstance(vec, LeRobotAsyncVectorEnv)
        check_env_attributes_and_types(vec)  # reads vec.envs[0]: crashes on a plain AsyncVectorEnv
        obs, _ = vec.reset(seed=[0, 1])
        batch = add_envs_task(vec, preprocess_observation(obs))
        assert batch["task"] == ["Put the red cube in the green zone."] * 2
        assert batch["observation.images.camera1"].shape == (2, 3, 32, 32)
        assert vec.call("_max_episode_steps")[0] == 450
    finally:
        vec.close()


def test_language_instruction_reaches_the_policy():
    """The text a SmolVLA-style policy tokenizes, through lerobot's own env factory and processors."""
    from lerobot.envs.factory import make_env
    from lerobot.envs.utils import preprocess_observation
    from lerobot.processor.converters import batch_to_transition, transition_to_batch

    from so101_sim.lerobot.compat import add_envs_task, newline_task_processor
    from so101_sim.lerobot.env_config import SO101EnvConfig

    cfg = SO101EnvConfig(task="Lift-v0", cameras=["camera1"], image_size=32, instruction="Grab the red block.")
    vec = make_env(cfg, n_envs=2)["so101"][0]
    try:
        obs, _ = vec.reset(seed=[0, 1])
        batch = add_envs_task(vec, preprocess_observation(obs))
        assert batch["task"] == ["Grab the red block."] * 2
        out = transition_to_batch(newline_task_processor()(batch_to_transition(batch)))
        assert out["task"] == ["Grab the red block.\n"] * 2
        default = SO101EnvConfig(task="PickPlace-v0", cameras=[], image_size=32)
        vec2 = make_env(default, n_envs=1)["so101"][0]
        assert vec2.call("task_description") == ("Put the red cube in the green zone.",)
        vec2.close()
    finally:
        vec.close()


def test_env_type_features_match_observations():
    from lerobot.envs.factory import make_env
    from lerobot.envs.utils import env_to_policy_features, preprocess_observation

    from so101_sim.lerobot.env_config import SO101EnvConfig

    cfg = SO101EnvConfig(task="Lift-v0", cameras=["camera1", "camera2"], camera_sizes={"camera2": [24, 40]},
                         image_size=32)  # fmt: skip
    features = env_to_policy_features(cfg)
    vec = make_env(cfg, n_envs=1)["so101"][0]
    try:
        batch = preprocess_observation(vec.reset(seed=0)[0])
        for key, ft in features.items():
            if key == "action":
                assert ft.shape == vec.single_action_space.shape
            else:
                assert tuple(batch[key].shape[1:]) == tuple(ft.shape), key
    finally:
        vec.close()


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> Path:
    from so101_sim.record_demos import RecordOptions, record_demos

    root = tmp_path_factory.mktemp("demos") / "lift"
    report = record_demos(
        RecordOptions(task="Lift-v0", episodes=3, repo_id="local/lift", root=root, cameras=("camera1", "camera2"),
                      image_size=48, progress=False)  # fmt: skip
    )
    assert report.episodes == 3 and report.frames > 100
    return root


def test_record_demos_dataset_loads(demos):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset("local/lift", root=demos, video_backend="pyav")
    assert ds.num_episodes == 3
    item = ds[5]
    assert item["observation.images.camera1"].shape == (3, 48, 48)
    assert item["observation.state"].shape == (6,) and item["action"].shape == (6,)
    assert item["task"] == "Pick up the red cube."
    assert ds.meta.info["robot_type"] == "so101_sim"
    with pytest.raises(FileExistsError, match="already exists"):
        from so101_sim.record_demos import RecordOptions, record_demos

        record_demos(RecordOptions(root=demos, episodes=1, progress=False))


def test_round_trip_record_train_eval(demos, tmp_path):
    """Demos -> stock lerobot-train (ACT, tiny) -> stock lerobot-eval --env.type=so101, no rename map."""
    train_out = tmp_path / "train"
    run_cli(
        "lerobot-train", "--dataset.repo_id=local/lift", f"--dataset.root={demos}", "--dataset.video_backend=pyav",
        "--policy.type=act", "--policy.dim_model=32", "--policy.n_heads=2", "--policy.dim_feedforward=64",
        "--policy.n_encoder_layers=1", "--policy.n_decoder_layers=1", "--policy.chunk_size=10",
        "--policy.n_action_steps=10", "--policy.pretrained_backbone_weights=null", "--policy.device=cpu",
        "--policy.push_to_hub=false", "--steps=3", "--batch_size=2", "--save_freq=3", f"--{TRAIN_ENV_EVAL_FREQ}=0",
        "--num_workers=0", f"--output_dir={train_out}", "--wandb.enable=false", cwd=tmp_path,
    )  # fmt: skip
    ckpt = train_out / "checkpoints" / "last" / "pretrained_model"
    assert (ckpt / "model.safetensors").exists()
    eval_out = tmp_path / "eval"
    run_cli(
        "lerobot-eval", f"--policy.path={ckpt}", "--env.type=so101", "--env.task=Lift-v0",
        "--env.cameras=[camera1,camera2]", "--env.image_size=48", "--env.episode_length=8",
        "--eval.n_episodes=1", "--eval.batch_size=1", f"--output_dir={eval_out}", cwd=tmp_path,
    )  # fmt: skip
    assert _eval_info(eval_out)["overall"]["n_episodes"] == 1


def test_sim_robot_features_match_real_so101_follower():
    from lerobot.cameras.opencv.configuration_opencv import OpenCVCameraConfig
    from lerobot.robots.so_follower import SOFollower, SOFollowerRobotConfig

    from so101_sim.lerobot.compat import feature_utils

    hw_to_dataset_features = feature_utils().hw_to_dataset_features

    from so101_sim.lerobot.robot import SO101Sim, SO101SimConfig

    for use_degrees in (True, False):
        cam = OpenCVCameraConfig(index_or_path=0, width=64, height=48, fps=30)
        real = SOFollower(SOFollowerRobotConfig(port="/dev/null", use_degrees=use_degrees, cameras={"front": cam}))
        sim = SO101Sim(SO101SimConfig(use_degrees=use_degrees, cameras=["camera1"], camera_names={"camera1": "front"},
                                      image_height=48, image_width=64))  # fmt: skip
        assert sim.observation_features == real.observation_features
        assert sim.action_features == real.action_features
        for prefix, feats in (("observation", "observation_features"), ("action", "action_features")):
            assert hw_to_dataset_features(getattr(sim, feats), prefix) == hw_to_dataset_features(
                getattr(real, feats), prefix
            )
        # Units: the same normalisation modes as the real bus uses.
        modes = {name: motor.norm_mode.value for name, motor in real.bus.motors.items()}
        assert modes["gripper"] == "range_0_100"
        assert modes["shoulder_pan"] == ("degrees" if use_degrees else "range_m100_100")
        assert sim.config.units == ("lerobot" if use_degrees else "lerobot_range")


def test_lerobot_record_replay_teleoperate_with_sim_robot(tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = tmp_path / "rec"
    robot = ["--robot.type=so101_sim", "--robot.image_height=48", "--robot.image_width=64", "--robot.real_time=false"]
    run_cli(
        "lerobot-record", *robot, "--teleop.type=so101_sim_expert", "--dataset.repo_id=local/sim_rec",
        f"--dataset.root={root}", "--dataset.num_episodes=2", "--dataset.episode_time_s=2",
        "--dataset.reset_time_s=0", "--dataset.single_task=Pick up the red cube.", "--dataset.push_to_hub=false",
        "--display_data=false", "--play_sounds=false", cwd=tmp_path,
    )  # fmt: skip
    ds = LeRobotDataset("local/sim_rec", root=root, video_backend="pyav")
    assert ds.num_episodes == 2 and ds.meta.info["robot_type"] == "so101_sim"
    assert ds.features["observation.state"]["names"][0] == "shoulder_pan.pos"
    assert ds[3]["observation.images.camera1"].shape == (3, 48, 64)
    states = np.stack([ds[i]["observation.state"].numpy() for i in range(0, len(ds), 10)])
    assert np.ptp(states[:, 1]) > 5.0  # the expert really moved the arm (degrees)
    run_cli("lerobot-replay", *robot, "--dataset.repo_id=local/sim_rec", f"--dataset.root={root}",
            "--dataset.episode=0", "--play_sounds=false", cwd=tmp_path)  # fmt: skip
    run_cli("lerobot-teleoperate", *robot, "--teleop.type=so101_sim_expert", "--teleop_time_s=1",
            "--display_data=false", cwd=tmp_path)  # fmt: skip


def test_so101_env_type_async_through_envhub_loader(tmp_path):
    """lerobot 0.4.4 crashes on --eval.use_async_envs=true for registry env types; our loader route works.
    Through the ``so101_sim`` alias of the env type (the name that survives another package taking ``so101``)."""
    out = tmp_path / "eval"
    run_cli(
        "lerobot-eval", "--env.type=so101_sim", "--env.envhub_loader=true", "--trust_remote_code=true",
        "--eval.use_async_envs=true", "--env.task=Reach-v0", "--policy.type=so101_scripted",
        "--eval.n_episodes=2", "--eval.batch_size=2", "--env.cameras=[camera1]", *SMALL_ENV,
        f"--output_dir={out}", cwd=tmp_path, env={"HF_HOME": str(tmp_path / "hf")},
    )  # fmt: skip
    assert _eval_info(out)["overall"]["pc_success"] == 100.0


def test_isaac_task_names_from_mujoco_names():
    from so101_sim.envhub import isaac_task

    assert isaac_task("Reach-v0") == "Isaac-SO-ARM101-Reach-v0"
    assert isaac_task("Lift-v0") == "Isaac-SO-ARM101-Lift-Cube-v0"
    assert isaac_task("Isaac-SO-ARM100-Lift-Cube-v0") == "Isaac-SO-ARM100-Lift-Cube-v0"
    with pytest.raises(ValueError, match="no Isaac Lab counterpart"):
        isaac_task("PickPlace-v0")
