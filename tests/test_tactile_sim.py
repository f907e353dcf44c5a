"""Simulated tactile pads: zeros in free air, both pads loaded when squeezing, firmer grip -> more force,
each pad's grid summing to the total contact force on that jaw."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from so101_sim.mujoco.expert import ScriptedExpert


def _grasp(env, seed=3):
    expert = ScriptedExpert("Lift-v0", units="radians")
    obs, _ = env.reset(seed=seed)
    expert.reset()
    while expert.phase != "lift":
        obs, _, _, _, info = env.step(expert.act(obs["agent_pos"], obs["environment_state"]))
    for _ in range(15):  # lift clear of the table so only the cube touches the jaws
        obs, _, _, _, info = env.step(expert.act(obs["agent_pos"], obs["environment_state"]))
    assert info["cube_grasped"]
    return obs


def _total_jaw_force_in_sensor_frame(env, pad: int) -> np.ndarray:
    """Independent sum: every contact of the cube with a jaw, force on the jaw, rotated into the sensor frame."""
    base = env.unwrapped
    m, d = base.model, base.data
    body = m.body(("gripper", "moving_jaw_so101_v1")[pad]).id
    site = m.site(("pad_fixed", "pad_moving")[pad]).id
    rot = d.site_xmat[site].reshape(3, 3) * np.array([1.0, -1.0, -1.0])
    total = np.zeros(3)
    f6 = np.zeros(6)
    for i in range(d.ncon):
        c = d.contact[i]
        b1, b2 = m.geom_bodyid[c.geom1], m.geom_bodyid[c.geom2]
        if body not in (b1, b2):
            continue
        mujoco.mj_contactForce(m, d, i, f6)
        f = c.frame.reshape(3, 3).T @ f6[:3]  # on geom2
        total += rot.T @ (-f if b1 == body else f)
    return total


def test_free_air_gives_zeros():
    env = gym.make("so101_sim/Lift-v0", cameras=(), tactile=True, tactile_grid=(6, 8))
    obs, _ = env.reset(seed=0)
    assert obs["tactile"].shape == (2, 6, 8, 3)
    for _ in range(5):
        obs, *_ = env.step(obs["agent_pos"])
    np.testing.assert_array_equal(obs["tactile"], 0.0)


def test_squeezing_loads_both_pads_and_grids_sum_to_contact_force():
    env = gym.make("so101_sim/Lift-v0", cameras=(), tactile=True, units="radians")
    obs = _grasp(env)
    grid = obs["tactile"]
    sums = grid.sum(axis=(1, 2))
    assert (sums[:, 2] > 1.0).all(), sums  # pressure on both pads
    for pad in range(2):
        np.testing.assert_allclose(sums[pad], _total_jaw_force_in_sensor_frame(env, pad), rtol=1e-4, atol=1e-4)
    assert np.count_nonzero(np.abs(grid[..., 2]) > 1e-6) >= 2  # a footprint, not one taxel


def test_firmer_grip_gives_more_force():
    env = gym.make("so101_sim/Lift-v0", cameras=(), tactile=True, units="radians")
    obs = _grasp(env)
    q_contact = float(obs["agent_pos"][5])

    def squeeze(target):
        action = obs["agent_pos"].copy()
        action[5] = target
        for _ in range(10):
            out, *_ = env.step(action)
        return out["tactile"].sum(axis=(1, 2))[:, 2]

    soft = squeeze(q_contact - 0.0008)
    firm = squeeze(q_contact - 0.3)
    assert (firm > soft + 1.0).all(), (soft, firm)


def test_tactile_as_environment_state_for_lerobot():
    env = gym.make("so101_sim/Lift-v0", cameras=(), environment_state="tactile", tactile=True)
    obs, _ = env.reset(seed=0)
    assert obs["environment_state"].shape == (2, 10, 12, 3)
    with pytest.raises(ValueError, match="needs tactile=True"):
        gym.make("so101_sim/Lift-v0", cameras=(), environment_state="tactile")
