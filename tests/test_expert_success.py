"""The scripted expert really solves the tasks over 100 seeds (state-only, no rendering)."""

from __future__ import annotations

import gymnasium as gym
import pytest

from so101_sim.mujoco.expert import ScriptedExpert
from so101_sim.rollout import run_episodes


@pytest.mark.parametrize(
    "task,noise,minimum",
    [
        ("Lift-v0", (0.0, 0.0), 0.98),
        ("Reach-v0", (0.0, 0.0), 0.99),
        ("PickPlace-v0", (0.0, 0.0), 0.95),
        ("Lift-v0", (0.005, 10.0), 0.90),
        ("LiftFixed-v0", (0.0, 0.0), 1.0),
    ],
)
def test_expert_success_rate_over_100_seeds(task, noise, minimum):
    n = 10 if task == "LiftFixed-v0" else 100
    env = gym.make(f"so101_sim/{task}", cameras=())
    expert = ScriptedExpert(task, cube_pose_noise=noise, seed=0)
    result = run_episodes(env, expert, episodes=n, seed=0)
    assert result.success_rate >= minimum, result.per_episode


def test_grasp_really_lifts_the_cube():
    """The known SO-101 failure is a cube that slips out (0 mm lift): check height and contact."""
    env = gym.make("so101_sim/Lift-v0", cameras=())
    expert = ScriptedExpert("Lift-v0")
    obs, _ = env.reset(seed=7)
    expert.reset()
    z0 = obs["environment_state"][2]
    heights, grasped = [], []
    for _ in range(300):
        obs, _, term, trunc, info = env.step(expert.act(obs["agent_pos"], obs["environment_state"]))
        heights.append(obs["environment_state"][2] - z0)
        grasped.append(info["cube_grasped"])
        if term or trunc:
            break
    assert info["is_success"]
    assert max(heights) >= 0.05
    assert sum(grasped) >= 10
