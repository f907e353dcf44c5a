"""The real Isaac Lab 3.0 backend, kit-less on the CPU: Newton physics (MuJoCo Warp), Warp ray-traced cameras.

One env (2 worlds, both cameras at 64x64) is built for the module: building compiles Warp kernels (cached in
Warp's kernel cache after the first run) and Isaac Lab keeps one simulation per process.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from so101_sim.tasks import CUBE_HALF, ENV_STATE_DIM, HOME_QPOS, get_task

N_WORLDS = 2
SIZE = (64, 64)
EPISODE = 80  # control steps: the LiftFixed-v0 expert succeeds in ~63
TASK = "Isaac-SO-ARM101-Lift-Cube-Fixed-v0"  # LiftFixed-v0: the cross-backend replay needs MuJoCo's cube pose


@pytest.fixture(scope="module")
def vec():
    from so101_sim.isaac import make_vector_env

    env = make_vector_env(TASK, num_envs=N_WORLDS, image_size=SIZE, episode_length=EPISODE, device="cpu",
                          launch_app=True)
    yield env
    env.close()


def test_runs_on_isaaclab_3_without_kit(vec):
    from so101_sim.isaac.isaaclab_api import isaaclab_line

    assert isaaclab_line() == "3.0"
    kit = sorted(m for m in sys.modules if m.split(".")[0] in ("omni", "isaacsim", "carb"))
    assert not kit, f"Kit modules were imported: {kit[:10]}"
    cfg = vec.isaac_env.cfg
    assert type(cfg.sim.physics).__name__ == "NewtonCfg"
    assert cfg.sim.physics.solver_cfg.cone == "elliptic" and cfg.sim.physics.solver_cfg.impratio == 10.0
    assert round(1.0 / vec.isaac_env.step_dt) == 30  # 30 Hz control, as the MuJoCo backend


def test_reset_observations_cameras_and_task_state(vec):
    obs, info = vec.reset(seed=3)
    assert set(obs["pixels"]) == {"camera1", "camera2"}
    for cam, img in obs["pixels"].items():
        assert img.dtype == np.uint8 and img.shape == (N_WORLDS, *SIZE, 3), (cam, img.shape)
        # not blank: the robot/table/cube give structure (a flat image has a tiny spread)
        assert img.reshape(N_WORLDS, -1, 3).std(axis=1).mean() > 10.0, cam
    assert obs["agent_pos"].shape == (N_WORLDS, 6)
    state = obs["environment_state"]
    assert state.shape == (N_WORLDS, ENV_STATE_DIM)
    task = get_task("LiftFixed-v0")
    cube, quat, target, start = state[:, 0:3], state[:, 3:7], state[:, 7:10], state[:, 10:13]
    np.testing.assert_allclose(cube[:, :2], np.tile(task.fixed_cube[:2], (N_WORLDS, 1)), atol=1e-3)
    np.testing.assert_allclose(cube[:, 2], CUBE_HALF, atol=2e-3)  # resting on the table
    np.testing.assert_allclose(np.linalg.norm(quat, axis=1), 1.0, atol=1e-4)
    # quaternion (w, x, y, z): a cube turned only about z has x = y = 0 (3.0 stores x, y, z, w)
    np.testing.assert_allclose(quat[:, 1:3], 0.0, atol=1e-3)
    np.testing.assert_allclose(target, start + np.array([0, 0, task.lift_height]), atol=1e-5)
    assert not info["is_success"].any()


def test_joint_targets_are_tracked_and_cube_stays_on_the_table(vec):
    obs, _ = vec.reset(seed=4)
    from so101_sim.adapters import radians_to_units, units_to_radians

    q0 = units_to_radians(obs["agent_pos"].astype(np.float64), vec.units, vec._low_rad, vec._high_rad)
    np.testing.assert_allclose(q0[:, :5], np.tile(np.array(HOME_QPOS)[:5], (N_WORLDS, 1)), atol=0.05)
    goal = np.array(HOME_QPOS) + np.array([0.3, 0.2, -0.2, 0.1, 0.0, 0.4])
    action = radians_to_units(np.tile(goal, (N_WORLDS, 1)), vec.units, vec._low_rad, vec._high_rad)
    for _ in range(20):
        obs, reward, *_ = vec.step(action)
    q = units_to_radians(obs["agent_pos"].astype(np.float64), vec.units, vec._low_rad, vec._high_rad)
    np.testing.assert_allclose(q, np.tile(goal, (N_WORLDS, 1)), atol=0.05)
    np.testing.assert_allclose(obs["environment_state"][:, 2], CUBE_HALF, atol=2e-3)
    assert reward.shape == (N_WORLDS,) and np.all(np.isfinite(reward))


def test_scripted_expert_reaches_the_pregrasp_pose(vec):
    """The MuJoCo backend's scripted expert (its own kinematic copy of the same Menagerie robot) drives the Isaac
    env through the same action interface: it reaches the pose above the cube and starts descending."""
    from so101_sim.mujoco.expert import ScriptedExpert

    obs, _ = vec.reset(seed=5)
    experts = [ScriptedExpert("LiftFixed-v0", units=vec.units) for _ in range(N_WORLDS)]
    for _ in range(45):
        action = np.stack([e.act(obs["agent_pos"][i], obs["environment_state"][i]) for i, e in enumerate(experts)])
        obs, *_ = vec.step(action)
        if all(e.phase != "approach" for e in experts):
            break
    assert [e.phase for e in experts] == ["descend"] * N_WORLDS, [(e.phase, e.t) for e in experts]


def test_lerobot_eval_semantics_same_step_autoreset(vec):
    """What lerobot-eval reads: SAME_STEP autoreset, final_info at the truncating step, the episode limit and
    the instruction through ``env.call``."""
    assert vec.metadata["autoreset_mode"].name == "SAME_STEP"
    assert vec.call("_max_episode_steps") == (EPISODE,) * N_WORLDS
    assert vec.call("task_description")[0] == "Pick up the red cube."
    obs, _ = vec.reset(seed=6)
    hold = obs["agent_pos"].copy()
    truncated = np.zeros(N_WORLDS, dtype=bool)
    for step in range(1, EPISODE + 1):
        obs, _reward, terminated, truncated, info = vec.step(hold)
        if truncated.any() or terminated.any():
            break
    assert step == EPISODE and truncated.all() and not terminated.any()
    assert "final_info" in info and list(info["final_info"]["is_success"]) == [False] * N_WORLDS
    assert info["final_obs"][0]["agent_pos"].shape == (6,)
    # the worlds were reset in the same step: the cube is back on the table at a new pose
    np.testing.assert_allclose(obs["environment_state"][:, 2], CUBE_HALF, atol=2e-3)


def test_same_joint_targets_give_the_same_cube_trajectory_in_both_backends(vec):
    """Actuators, contacts and frictions agree: the MuJoCo backend's expert lifts the cube on LiftFixed-v0; its
    joint targets, replayed open-loop on the Isaac backend, lift the cube along the same trajectory (within
    10 mm in height at every step, and both at least 5 cm up at the end)."""
    from so101_sim.mujoco.env import SO101Env
    from so101_sim.mujoco.expert import ScriptedExpert

    mj = SO101Env("LiftFixed-v0", cameras=None, units="radians")
    obs, _ = mj.reset(seed=0)
    expert = ScriptedExpert("LiftFixed-v0", units="radians")
    targets, cube_mj = [], []
    for _ in range(EPISODE - 5):
        act = expert.act(obs["agent_pos"], obs["environment_state"])
        obs, _r, terminated, _t, _i = mj.step(act)
        targets.append(act)
        cube_mj.append(obs["environment_state"][2])
        if terminated:
            break
    mj.close()
    assert terminated, "the MuJoCo expert did not finish LiftFixed-v0 (reference run)"

    from so101_sim.adapters import radians_to_units

    vec.reset(seed=0)
    cube_isaac, success = [], False
    for act in targets:
        obs, _r, terminated, _t, info = vec.step(
            radians_to_units(np.tile(act, (N_WORLDS, 1)), vec.units, vec._low_rad, vec._high_rad))
        if terminated[0]:  # success: the world was reset in this step, its observation is the new episode's
            success = bool(info["final_info"]["is_success"][0])
            break
        cube_isaac.append(obs["environment_state"][0, 2])
    cube_mj, cube_isaac = np.array(cube_mj[:-1]), np.array(cube_isaac)
    n = len(cube_isaac)
    mm = np.round((np.stack([cube_mj[:n], cube_isaac]) - CUBE_HALF) * 1000, 1)
    assert success and abs(n - len(cube_mj)) <= 5, (success, n, len(cube_mj), mm)
    assert np.abs(cube_isaac - cube_mj[:n]).max() < 0.010, mm
    assert mm[0, -1] > 50 and mm[1, -1] > 50, mm


def test_reward_is_the_mujoco_task_reward(vec):
    """The per-step reward equals ``so101_sim.tasks.manipulation_reward`` (the MuJoCo backend's function and
    weights) evaluated on the Isaac state, with the grasp point from MuJoCo's forward kinematics of the measured
    joints (an independent oracle for the Isaac tool-point offset)."""
    from so101_sim.adapters import units_to_radians
    from so101_sim.mujoco.expert import ScriptedExpert
    from so101_sim.tasks import StepState, manipulation_reward

    kin = ScriptedExpert("LiftFixed-v0").grasp_kin  # MuJoCo FK of the grasp point (the lift reward's "gripper")
    obs, _ = vec.reset(seed=7)
    task = get_task("LiftFixed-v0")
    for _ in range(3):
        obs, reward, *_ = vec.step(obs["agent_pos"])
        q = units_to_radians(obs["agent_pos"].astype(np.float64), vec.units, vec._low_rad, vec._high_rad)
        for i in range(N_WORLDS):
            s = obs["environment_state"][i].astype(np.float64)
            state = StepState(gripper_pos=kin.fk(q[i])[0], cube_pos=s[0:3], cube_init=s[10:13], target=s[7:10],
                              cube_grasped=False, cube_speed=0.0)
            expected, parts, _ = manipulation_reward(task, state, held_steps=0)
            assert parts["distance_penalty"] < -0.1  # the gripper is far above the cube at home
            np.testing.assert_allclose(reward[i], expected, atol=2e-3)
