"""Rewards and success through the public env API (gym.make + step), checked against the README's "Rewards"
paragraph and measured positions, not against the reward function itself.

Documented (lift and pick-and-place): distance penalty -2.0 x distance from the gripper (the grasp point between
the jaws) to the cube's initial position; approach bonus +5.0 within 2 cm of the cube; height bonus +20.0 x the
fraction of the 5 cm lift reached; proximity bonus +0.5 within 5 cm; success bonus +50.0 on the step the task is
solved; displacement penalty -5.0 x exp(d / 5 cm - 1) when the cube, still on the table, was pushed d > 5 cm
from its start. Reach: -distance + (1 - tanh(10 d)) + 10 on success. Lift succeeds when the cube, 5 cm up, has
been held by both jaws for 10 consecutive steps: a cube held, then dropped sooner, is not a success.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from so101_sim.mujoco.expert import GRIP_OPEN, ScriptedExpert

CUBE_REST_Z = 0.0125  # the 2.5 cm cube resting on the table (centre height)
LIFT = 0.05
HOLD_STEPS = 10


def _grasp_point(env) -> np.ndarray:
    base = env.unwrapped
    return base.data.site_xpos[base.model.site("grasp_point").id].copy()


def _lifted_and_held(obs, info) -> bool:
    return obs["environment_state"][2] - CUBE_REST_Z >= LIFT and info["cube_grasped"]


@pytest.fixture(scope="module")
def lift_episode():
    """The scripted expert solving Lift-v0: per step (obs, reward, terminated, info, grasp point)."""
    env = gym.make("so101_sim/Lift-v0", cameras=(), units="radians")
    expert = ScriptedExpert("Lift-v0", units="radians")
    obs, _ = env.reset(seed=3)
    expert.reset()
    steps = []
    for _ in range(env.unwrapped._max_episode_steps):
        obs, reward, terminated, truncated, info = env.step(expert.act(obs["agent_pos"], obs["environment_state"]))
        steps.append((obs, reward, terminated, info, _grasp_point(env)))
        if terminated or truncated:
            break
    env.close()
    return steps


def test_lift_reward_terms_follow_the_documented_weights(lift_episode):
    seen_close = seen_lifted = False
    for obs, reward, _, info, grip in lift_episode:
        terms = info["reward_terms"]
        assert reward == pytest.approx(sum(terms.values()), abs=1e-9)
        cube, cube_init = obs["environment_state"][0:3], obs["environment_state"][10:13]
        assert terms["distance_penalty"] == pytest.approx(-2.0 * np.linalg.norm(grip - cube_init), abs=1e-5)
        to_cube = np.linalg.norm(grip - cube)
        if abs(to_cube - 0.02) > 1e-4:  # away from the threshold (float32 observations)
            assert terms["approach_bonus"] == (5.0 if to_cube < 0.02 else 0.0), to_cube
        if abs(to_cube - 0.05) > 1e-4:
            assert terms["proximity_bonus"] == (0.5 if to_cube < 0.05 else 0.0), to_cube
        height = max(0.0, float(cube[2]) - CUBE_REST_Z)
        assert terms["height_bonus"] == pytest.approx(20.0 * min(1.0, height / LIFT), abs=1e-3)
        assert terms["displacement_penalty"] == 0.0  # the expert does not push the cube away
        seen_close |= terms["approach_bonus"] == 5.0
        seen_lifted |= terms["height_bonus"] == pytest.approx(20.0)
    assert seen_close and seen_lifted, "the episode should reach the cube and lift it the full 5 cm"


def test_success_bonus_on_the_tenth_held_step_only(lift_episode):
    held = 0
    for i, (obs, reward, terminated, info, _) in enumerate(lift_episode):
        held = held + 1 if _lifted_and_held(obs, info) else 0
        success = held >= HOLD_STEPS
        assert info["is_success"] == success, (i, held)
        assert info["reward_terms"]["success_bonus"] == (50.0 if success else 0.0)
        assert terminated == success  # the episode ends on the success step
    assert lift_episode[-1][3]["is_success"], "the scripted expert should solve Lift-v0 (seed 3)"


def test_cube_held_then_dropped_before_ten_steps_is_not_a_success():
    env = gym.make("so101_sim/Lift-v0", cameras=(), units="radians")
    expert = ScriptedExpert("Lift-v0", units="radians")
    obs, _ = env.reset(seed=3)
    expert.reset()
    held = 0
    while held < HOLD_STEPS - 3:  # lift and hold, 3 steps short of success
        obs, _, terminated, truncated, info = env.step(expert.act(obs["agent_pos"], obs["environment_state"]))
        held = held + 1 if _lifted_and_held(obs, info) else 0
        assert not (terminated or truncated or info["is_success"])
    drop = obs["agent_pos"].copy()
    drop[5] = GRIP_OPEN  # open the jaws where the arm is
    for _ in range(40):
        obs, reward, terminated, truncated, info = env.step(drop)
        assert not info["is_success"] and not terminated
        assert info["reward_terms"]["success_bonus"] == 0.0
    assert obs["environment_state"][2] < CUBE_REST_Z + 0.01, "the cube should have fallen back to the table"
    env.close()


def test_pushed_cube_pays_the_displacement_penalty():
    env = gym.make("so101_sim/Lift-v0", cameras=(), units="radians")
    obs, _ = env.reset(seed=0)
    base = env.unwrapped
    a = base.idx.cube_qpos
    base.data.qpos[a : a + 2] += [0.0, 0.08]  # the cube slid 8 cm sideways along the table
    obs, reward, *_, info = env.step(obs["agent_pos"])
    cube, cube_init = obs["environment_state"][0:3], obs["environment_state"][10:13]
    d = float(np.linalg.norm(cube[:2] - cube_init[:2]))
    assert 0.07 < d < 0.09
    assert info["reward_terms"]["displacement_penalty"] == pytest.approx(-5.0 * math.exp(d / 0.05 - 1.0), rel=1e-4)
    assert reward == pytest.approx(sum(info["reward_terms"].values()))
    env.close()


def test_reach_reward_is_the_documented_shaping():
    env = gym.make("so101_sim/Reach-v0", cameras=(), units="radians")
    obs, _ = env.reset(seed=1)
    base = env.unwrapped
    for _ in range(3):
        obs, reward, terminated, _, info = env.step(obs["agent_pos"])
        tip = base.data.site_xpos[base.model.site("gripperframe").id]
        dist = float(np.linalg.norm(tip - obs["environment_state"][7:10]))
        assert dist > 0.015 and not info["is_success"] and not terminated
        assert reward == pytest.approx(-dist + 1.0 - math.tanh(10.0 * dist), abs=1e-5)
    env.close()
