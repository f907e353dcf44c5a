"""Contract tests of the Isaac Lab backend against the stand-in (tests/isaac_standin), CPU only.

The stand-in is selected with ``SO101_ISAACLAB_STANDIN=isaac_standin``; the URDFs come from the shared assets
(``SO101_URDF``/``SO100_URDF``), never from this repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SO101_URDF = Path(os.environ.get("SO101_URDF", str(Path(__file__).resolve().parents[2] / "shared" / "assets") + "/so101/so101_new_calib.urdf"))
SO100_URDF = Path(os.environ.get("SO100_URDF", str(Path(__file__).resolve().parents[2] / "shared" / "assets") + "/so100/so100.urdf"))



def test_shared_robot_descriptions_are_there():
    """The URDFs (../shared/assets) these contract tests build from: missing files fail, never skip."""
    assert SO101_URDF.is_file(), f"SO-101 URDF not found at {SO101_URDF} (set SO101_URDF)"
    assert SO100_URDF.is_file(), f"SO-100 URDF not found at {SO100_URDF} (set SO100_URDF)"


@pytest.fixture()
def standin(monkeypatch):
    """Select the stand-in for Isaac Lab; undo afterwards (module caches included)."""
    from so101_sim.isaac import isaaclab_api

    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv(isaaclab_api.STANDIN_ENV, "isaac_standin")
    monkeypatch.setenv("SO101_URDF", str(SO101_URDF))
    monkeypatch.setenv("SO100_URDF", str(SO100_URDF))
    isaaclab_api.clear_cache()
    import isaac_standin

    yield isaac_standin
    isaaclab_api.clear_cache()
    from isaac_so_arm101 import env_cfg
    from so101_sim.isaac import recording

    env_cfg._ENV_CFG_CLASS = None
    recording._IMAGES_RECORDER = None


def _env(task="Isaac-SO-ARM101-Lift-Cube-v0", num_envs=3, image_size=(24, 32), episode_length=8, success=None,
         cameras=("camera1", "camera2"), units="lerobot"):
    """Build the VLA task through the same path as make_vector_env, optionally with a test success term."""
    import isaac_so_arm101
    from isaac_so_arm101.robots import ROBOTS
    from so101_sim.isaac.isaaclab_api import il
    from so101_sim.isaac.vector_env import IsaacAsVectorEnv

    cfg = isaac_so_arm101.make_task_cfg(task, "vla", num_envs=num_envs, image_size=image_size,
                                        episode_length=episode_length, cameras=cameras)
    cfg.sim.device = "cpu"
    if success is not None:
        cfg.terminations["success"] = il.TerminationTermCfg(func=success, params={})
    raw = il.ManagerBasedRLEnv(cfg=cfg, render_mode=None)
    spec = ROBOTS[isaac_so_arm101.task_info(task).robot]
    vec = IsaacAsVectorEnv(raw, units=units, cameras=cameras, image_size=image_size, instruction="Pick up the cube.",
                           ee_link_name=spec.link("gripper_link"), joint_low=spec.lower, joint_high=spec.upper)
    return vec, raw


# ---- no Isaac Lab -----------------------------------------------------------------------------------------------
def test_import_without_isaaclab_and_clear_error():
    """`import so101_sim`, the backend package and the task registry never import Isaac Lab; asking for it fails
    with the install steps (run in a clean interpreter without the stand-in)."""
    code = (
        "import sys, importlib.util\n"
        "assert importlib.util.find_spec('isaaclab') is None, 'isaaclab is installed here'\n"
        "import so101_sim, so101_sim.isaac, isaac_so_arm101, so101_sim.isaac.vector_env\n"
        "import gymnasium as gym\n"
        "assert 'Isaac-SO-ARM101-Lift-Cube-v0' in gym.registry\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('isaaclab', 'isaacsim', 'omni')]\n"
        "from so101_sim.isaac import make_vector_env, IsaacLabNotInstalledError\n"
        "try:\n"
        "    make_vector_env(num_envs=2)\n"
        "except ImportError as e:\n"
        "    assert isinstance(e, IsaacLabNotInstalledError), type(e)\n"
        "    print(e)\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SO101_ISAACLAB_STANDIN"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "Isaac Lab is not installed" in out.stdout
    assert "./isaaclab.sh -p -m pip install --no-deps -e" in out.stdout and "docs/isaac.md" in out.stdout
    assert "isaacsim[all,extscache]==5.1.0" in out.stdout


def test_unknown_task_and_camera_are_rejected_before_isaac_starts():
    from so101_sim.isaac import make_vector_env

    with pytest.raises(ValueError, match="unknown Isaac task"):
        make_vector_env("Isaac-SO-ARM101-Stack-v0")
    with pytest.raises(ValueError, match="unknown camera"):
        make_vector_env(cameras=("camera3",))


# ---- task configurations ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("task_id", [
    "Isaac-SO-ARM101-Reach-v0", "Isaac-SO-ARM101-Reach-Play-v0", "Isaac-SO-ARM101-Lift-Cube-v0",
    "Isaac-SO-ARM101-Lift-Cube-Play-v0", "Isaac-SO-ARM100-Reach-v0", "Isaac-SO-ARM100-Lift-Cube-v0"])
def test_registered_tasks_build_in_both_variants(standin, task_id):
    import gymnasium as gym

    import isaac_so_arm101
    from isaac_so_arm101 import env_cfg
    from so101_sim.isaac.isaaclab_api import il

    spec = gym.spec(task_id)
    assert spec.entry_point == "isaaclab.envs:ManagerBasedRLEnv"
    rl = env_cfg.__dict__[spec.kwargs["env_cfg_entry_point"].split(":")[1]]()
    vla = isaac_so_arm101.make_task_cfg(task_id, "vla", num_envs=2)
    info = isaac_so_arm101.task_info(task_id)
    assert rl.scene.num_envs == (16 if info.play else 4096)
    for cfg in (rl, vla):
        assert isinstance(cfg, il.ManagerBasedRLEnvCfg)
        assert "success" in cfg.terminations and cfg.terminations["time_out"].time_out
        assert cfg.decimation * cfg.sim.dt == pytest.approx(1 / 30)
    # VLA: one 6-value absolute joint action; RL: relative arm (+ binary gripper for lift)
    assert list(vla.actions) == ["arm_action"] and vla.actions["arm_action"].use_default_offset is False
    assert len(vla.actions["arm_action"].joint_names) == 6
    assert rl.actions["arm_action"].use_default_offset and rl.actions["arm_action"].scale == 0.5
    assert ("gripper_action" in rl.actions) == (info.task == "lift")
    assert hasattr(vla.scene, "front_camera") and hasattr(vla.scene, "wrist_camera")
    assert not hasattr(rl.scene, "front_camera")
    # the RL variant runs in the stand-in too (concatenated policy group)
    rl.scene.num_envs = 2
    rl.sim.device = "cpu"
    env = il.ManagerBasedRLEnv(cfg=rl)
    obs, _ = env.reset(seed=0)
    n_act = env.action_manager.total_action_dim
    assert n_act == (6 if info.task == "lift" else 5)
    import torch

    obs, rew, _, _, _ = env.step(torch.zeros(2, n_act))
    assert obs["policy"].shape[0] == 2 and obs["policy"].ndim == 2 and rew.shape == (2,)
    expected = 300 if info.task == "lift" else 150
    assert env.max_episode_length == expected


def test_robot_matches_the_mujoco_model(standin):
    """Joint names, limits and STS3215 gains as in Menagerie's SO-101 (so101.xml)."""
    import xml.etree.ElementTree as ET

    from isaac_so_arm101.robots import SO101, articulation_cfg
    from so101_sim.adapters import JOINT_NAMES

    menagerie = Path(os.environ.get("MENAGERIE_ROOT", str(Path(__file__).resolve().parents[2] / "shared" / "menagerie"))) / "robotstudio_so101/so101.xml"
    assert menagerie.is_file(), f"Menagerie SO-101 not found at {menagerie} (set MENAGERIE_ROOT)"
    root = ET.parse(menagerie).getroot()
    sts = next(d for d in root.iter("default") if d.get("class") == "sts3215")
    pos, joint = sts.find("position"), sts.find("joint")
    ranges = {j.get("name"): [float(v) for v in j.get("range").split()] for j in root.iter("joint") if j.get("range")
              and j.get("name") in JOINT_NAMES}
    cfg = articulation_cfg(SO101)
    act = cfg.actuators["sts3215"]
    assert act.joint_names_expr == list(JOINT_NAMES)
    assert act.stiffness == pytest.approx(float(pos.get("kp")))
    assert act.damping == pytest.approx(float(pos.get("kv")) + float(joint.get("damping")))
    assert act.effort_limit_sim == pytest.approx(float(pos.get("forcerange").split()[1]))
    assert act.armature == pytest.approx(float(joint.get("armature")))
    assert act.friction == pytest.approx(float(joint.get("frictionloss")))
    for name in JOINT_NAMES:
        assert SO101.joint_limits[name] == pytest.approx(tuple(ranges[name]), abs=1e-5), name
    assert cfg.spawn.asset_path == str(SO101_URDF)


def test_urdf_path_comes_from_configuration(standin, monkeypatch):
    from isaac_so_arm101.robots import SO101

    monkeypatch.delenv("SO101_URDF")
    with pytest.raises(FileNotFoundError, match="SO101_URDF is not set"):
        SO101.urdf_path()
    monkeypatch.setenv("SO101_URDF", "/nonexistent/so101.urdf")
    with pytest.raises(FileNotFoundError, match="no such URDF"):
        SO101.urdf_path()


# ---- end-effector pose ------------------------------------------------------------------------------------------
def test_ee_pose_source_reads_body_poses_in_env_local_frame(standin):
    from so101_sim.isaac.ee_pose_source import IsaacEEPoseSource

    vec, raw = _env(num_envs=4)
    vec.reset(seed=3)
    src = IsaacEEPoseSource(raw, "robot", "gripper_frame_link")
    pos, quat = src.link_pose()
    assert src.batched and pos.shape == (4, 3) and quat.shape == (4, 4) and pos.dtype == np.float64
    robot = raw.scene["robot"]
    i = robot.body_names.index("gripper_frame_link")
    world = robot.data.body_link_pos_w[:, i].numpy()
    origins = raw.scene.env_origins.numpy()
    assert np.ptp(origins[:, :2], axis=0).max() > 1.0  # worlds really are spread out
    np.testing.assert_allclose(pos, world - origins, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(quat, axis=1), 1.0, atol=1e-5)
    # the tool frame sits in front of and above the base at the start pose
    assert np.all(pos[:, 0] > 0.1) and np.all(pos[:, 2] > 0.0)
    with pytest.raises(ValueError, match="available bodies: .*gripper_link"):
        IsaacEEPoseSource(raw, "robot", "tool0")
    with pytest.raises(KeyError, match="robot_name"):
        IsaacEEPoseSource(raw, "arm", "gripper_link")


def test_ee_state_follows_the_arm_and_restarts_after_autoreset(standin):
    vec, _raw = _env(num_envs=2, episode_length=4)
    obs, _ = vec.reset(seed=0)
    np.testing.assert_allclose(obs["ee_pos_delta"], 0.0)
    start = obs["ee_pos"].copy()
    action = obs["agent_pos"].copy()
    action[:, 0] += 40.0  # shoulder pan, degrees
    obs, _, _, trunc, info = vec.step(action)
    moved = obs["ee_pos"] - start
    np.testing.assert_allclose(obs["ee_pos_delta"], moved, atol=1e-6)
    assert np.all(np.abs(moved[:, 1]) > 1e-3)  # panning swings the tool sideways
    assert info["ee_state"]["ee_pos"].shape == (2, 3) and info["ee_state"]["ee_quat_delta"].shape == (2, 4)
    for _ in range(3):
        obs, _, _, trunc, info = vec.step(action)
    assert trunc.all()  # time limit: every world auto-reset inside this step
    np.testing.assert_allclose(obs["ee_pos_delta"], 0.0, atol=1e-7)
    np.testing.assert_allclose(vec.get_ee_state()["ee_quat_delta"][:, 0], 1.0, atol=1e-6)


def test_so100_uses_its_own_link_names(standin):
    vec, raw = _env("Isaac-SO-ARM100-Lift-Cube-v0", num_envs=2)
    obs, _ = vec.reset(seed=0)
    assert "gripper" in raw.scene["robot"].body_names and "gripper_link" not in raw.scene["robot"].body_names
    assert obs["ee_pos"].shape == (2, 3)


# ---- the VectorEnv ----------------------------------------------------------------------------------------------
def test_observations_actions_and_units(standin):
    from so101_sim.adapters import JOINT_NAMES, radians_to_units

    vec, raw = _env(num_envs=3, image_size=(24, 32), episode_length=30)
    obs, _ = vec.reset(seed=1)
    assert set(obs["pixels"]) == {"camera1", "camera2"}
    for img in obs["pixels"].values():
        assert img.dtype == np.uint8 and img.shape == (3, 24, 32, 3)
    assert obs["agent_pos"].dtype == np.float32 and obs["agent_pos"].shape == (3, 6)
    robot = raw.scene["robot"]
    assert robot.joint_names[0] == "gripper"  # the URDF's order differs from LeRobot's motor order
    order = [robot.joint_names.index(j) for j in JOINT_NAMES]
    q = robot.data.joint_pos.numpy()[:, order]
    np.testing.assert_allclose(obs["agent_pos"], radians_to_units(q, "lerobot"), atol=1e-4)
    state = obs["environment_state"]
    assert state.shape == (3, 13)
    np.testing.assert_allclose(state[:, 7:10], state[:, 10:13] + [0, 0, 0.05], atol=1e-6)  # lift target
    assert np.all((state[:, 0] >= 0.15 - 1e-6) & (state[:, 0] <= 0.25 + 1e-6))  # MuJoCo's cube region
    assert vec.observation_space["agent_pos"].shape == (3, 6)
    assert vec.single_observation_space["pixels"]["camera1"].shape == (24, 32, 3)

    # an absolute target in degrees reaches the joint in radians; out-of-range targets are clipped
    target = obs["agent_pos"].copy()
    target[:, 1] = 10.0
    target[:, 5] = 500.0  # gripper percent, clipped to 100
    for _ in range(25):  # the stand-in's servo moves at most 0.1 rad per step (home: shoulder_lift -1, gripper 0)
        obs, *_ = vec.step(target)
    q = raw.scene["robot"].data.joint_pos.numpy()[:, order]
    np.testing.assert_allclose(q[:, 1], np.deg2rad(10.0), atol=1e-4)
    np.testing.assert_allclose(obs["agent_pos"][:, 5], 100.0, atol=1e-3)
    with pytest.raises(ValueError, match=r"shape \(3, 6\)"):
        vec.step(np.zeros((3, 7)))
    with pytest.raises(ValueError, match="NaN"):
        vec.step(np.full((3, 6), np.nan))


def test_radians_mode_and_camera_subset(standin):
    vec, raw = _env(num_envs=2, cameras=("camera2",), units="radians")
    obs, _ = vec.reset(seed=0)
    assert set(obs["pixels"]) == {"camera2"}
    assert not hasattr(raw.cfg.scene, "front_camera")
    from so101_sim.adapters import JOINT_NAMES

    robot = raw.scene["robot"]
    order = [robot.joint_names.index(j) for j in JOINT_NAMES]
    np.testing.assert_allclose(obs["agent_pos"], robot.data.joint_pos.numpy()[:, order], atol=1e-6)


def _pan_success(env):
    """Test success term: world i succeeds when its shoulder pan passes 0.3 rad (world 1 can never)."""
    import torch

    robot = env.scene["robot"]
    pan = robot.data.joint_pos[:, robot.joint_names.index("shoulder_pan")]
    threshold = torch.full_like(pan, 0.3)
    threshold[1] = 10.0
    return pan >= threshold


def test_same_step_autoreset_success_bookkeeping(standin):
    """final_info/final_obs appear exactly on the done step of each world, with the success term's value."""
    vec, raw = _env(num_envs=3, episode_length=6, success=_pan_success)
    obs, _ = vec.reset(seed=0)
    seen: list[tuple[int, int, bool]] = []
    step_in_episode = np.zeros(3, dtype=int)
    prev = obs
    for t in range(14):
        action = np.zeros((3, 6), dtype=np.float32)
        action[:, 5] = 50.0
        action[0, 0] = 40.0  # world 0 pans fast: success after 3 steps
        action[1, 0] = 40.0  # world 1 pans too, but its threshold is out of reach: time out
        if t >= 4:
            action[2, 0] = 40.0  # world 2 starts late
        obs, reward, terminated, truncated, info = vec.step(action)
        step_in_episode += 1
        done = terminated | truncated
        assert reward.shape == (3,) and reward.dtype == np.float32
        if done.any():
            fi = info["final_info"]
            assert fi["is_success"].dtype == bool and fi["is_success"].shape == (3,)
            np.testing.assert_array_equal(fi["_is_success"], done)
            assert not fi["is_success"][~done].any()
            np.testing.assert_array_equal(fi["is_success"], terminated & done)  # success is the only termination
            for i in np.flatnonzero(done):
                seen.append((int(i), int(step_in_episode[i]), bool(fi["is_success"][i])))
                np.testing.assert_array_equal(info["final_obs"][i]["agent_pos"], prev["agent_pos"][i])
                step_in_episode[i] = 0
            assert all(info["final_obs"][i] is None for i in np.flatnonzero(~done))
        else:
            assert "final_info" not in info
        prev = obs
    truth = [(i, n, s) for i, n, s, _ in raw._log]
    assert seen == truth
    assert (0, 3, True) in seen and (1, 6, False) in seen
    assert any(i == 2 and s for i, _, s in seen)


def test_lerobot_attributes_and_render(standin):
    from lerobot.envs.utils import check_env_attributes_and_types

    from so101_sim.lerobot.compat import add_envs_task

    vec, raw = _env(num_envs=2, episode_length=7)
    obs, _ = vec.reset(seed=0)
    assert vec.call("_max_episode_steps") == (7, 7)
    assert vec.call("task_description") == ("Pick up the cube.",) * 2
    assert hasattr(vec.envs[0], "task_description") and hasattr(vec.envs[0], "task")
    assert vec.unwrapped.metadata["render_fps"] == 30
    assert isinstance(vec, __import__("gymnasium").vector.VectorEnv)
    check_env_attributes_and_types(vec)
    assert add_envs_task(vec, {})["task"] == ["Pick up the cube.", "Pick up the cube."]
    frames = vec.call("render")
    assert len(frames) == 2 and frames[0].shape == (24, 32, 3) and frames[0].dtype == np.uint8
    np.testing.assert_array_equal(vec.envs[1].render(), obs["pixels"]["camera1"][1])
    vec.close()
    assert raw._closed


def test_make_vector_env_launches_the_app_when_asked(standin):
    from so101_sim.isaac import app, make_vector_env

    standin.AppLauncher.launches.clear()
    vec = make_vector_env(num_envs=2, device="cpu", image_size=16, launch_app=True, headless=True)
    assert repr(vec)  # SyncVectorEnv.__repr__ must not touch attributes this class never sets
    assert standin.AppLauncher.launches == [{"headless": True, "device": "cpu", "enable_cameras": True}]
    running = app.running_app()
    assert running is not None and not running.closed
    obs, _ = vec.reset(seed=0)
    assert obs["pixels"]["camera1"].shape == (2, 16, 16, 3)
    vec.close()
    assert running.closed and app.running_app() is None


# ---- lerobot-eval end to end ------------------------------------------------------------------------------------
def test_lerobot_eval_policy_end_to_end(standin, tmp_path, monkeypatch):
    """lerobot 0.4.4's own eval_policy/rollout with a small real ACT policy on IsaacAsVectorEnv."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors
    from lerobot.processor import PolicyProcessorPipeline
    from lerobot.scripts.lerobot_eval import eval_policy

    torch.manual_seed(0)
    h, w = 32, 32
    vec, _raw = _env(num_envs=3, episode_length=6, success=_pan_success, image_size=(h, w))
    cfg = ACTConfig(
        input_features={
            "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
            "observation.environment_state": PolicyFeature(FeatureType.ENV, (13,)),
            "observation.images.camera1": PolicyFeature(FeatureType.VISUAL, (3, h, w)),
            "observation.images.camera2": PolicyFeature(FeatureType.VISUAL, (3, h, w)),
        },
        output_features={"action": PolicyFeature(FeatureType.ACTION, (6,))},
        pretrained_backbone_weights=None, dim_model=32, n_heads=2, dim_feedforward=64, n_encoder_layers=1,
        n_decoder_layers=1, chunk_size=4, n_action_steps=4, use_vae=False, device="cpu",
    )
    policy = ACTPolicy(cfg).eval()
    # Action statistics with a tiny std make the untrained network's output land on the mean: a fixed pan of
    # 40 degrees, so world 0 and 2 succeed (pan passes 0.3 rad) and world 1 times out.
    mean = torch.tensor([40.0, 0.0, 0.0, 0.0, 0.0, 50.0])
    stats = {
        "action": {"mean": mean, "std": torch.full((6,), 1e-6)},
        "observation.state": {"mean": torch.zeros(6), "std": torch.full((6,), 50.0)},
        "observation.environment_state": {"mean": torch.zeros(13), "std": torch.ones(13)},
        "observation.images.camera1": {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.25)},
        "observation.images.camera2": {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.25)},
    }
    pre, post = make_pre_post_processors(cfg, dataset_stats=stats)
    identity = PolicyProcessorPipeline(steps=[])
    info = eval_policy(vec, policy, identity, identity, pre, post, n_episodes=6, max_episodes_rendered=2,
                       videos_dir=tmp_path / "videos", start_seed=100)
    per_episode = info["per_episode"]
    assert len(per_episode) == 6
    successes = [bool(e["success"]) for e in per_episode]
    # ground truth: each world's first episode of each batch, from the stand-in's termination log
    assert successes == [True, False, True, True, False, True]
    assert info["aggregated"]["pc_success"] == pytest.approx(100 * 4 / 6)
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 2 and all(v.stat().st_size > 0 for v in videos)


# ---- the seed's entry points ------------------------------------------------------------------------------------
def test_seed_make_env_with_an_isaac_task_builds_the_isaac_backend(standin):
    """``make_env(n_envs=2, task="Isaac-SO-ARM101-Lift-Cube-v0")`` (seed 000): the Isaac id selects the Isaac
    backend, and its default cameras are the Isaac tasks' own (no camera3)."""
    sys.path.insert(0, str(ROOT))
    import env as envhub_entry
    from so101_sim.envhub import env_options, isaac_task
    from so101_sim.isaac.vector_env import IsaacAsVectorEnv

    assert env_options({"task": "Isaac-SO-ARM101-Lift-Cube-v0"})["cameras"] == ("camera1", "camera2")
    assert isaac_task("LiftFixed-v0") == "Isaac-SO-ARM101-Lift-Cube-Fixed-v0"  # never the random Lift
    envs = envhub_entry.make_env(n_envs=2, task="Isaac-SO-ARM101-Lift-Cube-v0", image_size=32, device="cpu")
    vec = envs["so101"]["Isaac-SO-ARM101-Lift-Cube-v0"]
    try:
        assert isinstance(vec, IsaacAsVectorEnv) and vec.num_envs == 2
        obs, _ = vec.reset(seed=0)
        assert set(obs["pixels"]) == {"camera1", "camera2"}
    finally:
        vec.close()


def test_seed_ee_wrapper_on_a_raw_isaac_env(standin):
    """``IsaacEEWrapper(env, robot_name="robot", ee_link_name="gripper_link", add_ee_to_obs=True)`` from the
    top-level ``env_wrapper.py`` on a raw Isaac Lab env; ``import isaac_so_arm101.tasks.reach`` / ``.lift``."""
    sys.path.insert(0, str(ROOT))
    from env_wrapper import IsaacEEWrapper
    from isaac_so_arm101.tasks import lift, reach

    assert "Isaac-SO-ARM101-Reach-v0" in reach.TASK_IDS and "Isaac-SO-ARM101-Lift-Cube-v0" in lift.TASK_IDS
    _vec, raw = _env(num_envs=2)
    env = IsaacEEWrapper(raw, robot_name="robot", ee_link_name="gripper_link", add_ee_to_obs=True)
    obs, info = env.reset(seed=0)
    assert obs["ee_pos"].shape == (2, 3) and info["ee_state"]["ee_pos"].shape == (2, 3)
    with pytest.raises(ValueError, match="no body named 'nope'"):
        IsaacEEWrapper(raw, ee_link_name="nope")
