"""Simulated tactile pads against physics, not against a second copy of the sensor code.

- free air reads zero;
- a cube hanging still between the jaws: the two pads' forces, rotated back to the world frame, carry the cube's
  weight (m g from the model), and nothing else (the squeeze cancels between the jaws);
- a static squeeze: both pads read nearly equal pressure (Newton's third law across the cube);
- a firmer grip reads more pressure;
- a contact off the pad (the cube against the back of the fixed jaw) is dropped, although MuJoCo reports it;
- the real-fingertip layout (Paxini GEN3, 52 taxels, from the vendor coordinates in paxini-sdk): the same
  physics in 0.1 N counts, Fz compression only, named as LeRobot's Paxini SO-101 plugin names its features.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from so101_sim.mujoco.expert import ScriptedExpert
from so101_sim.mujoco.tactile import TactilePads

PADS = ("pad_fixed", "pad_moving")
JAW_TIPS = ("fixed_jaw_sph_tip1", "moving_jaw_sph_tip1")


def _hold_cube_still(env, seed: int = 3, settle: int = 45):
    """Grasp and lift the cube with the scripted expert, then freeze the arm's targets until it hangs still."""
    expert = ScriptedExpert("Lift-v0", units="radians")
    obs, _ = env.reset(seed=seed)
    expert.reset()
    while expert.phase != "lift":
        obs, _, _, _, info = env.step(expert.act(obs["agent_pos"], obs["environment_state"]))
    for _ in range(15):  # lift clear of the table so only the jaws touch the cube
        obs, _, _, _, info = env.step(expert.act(obs["agent_pos"], obs["environment_state"]))
    hold = expert.act(obs["agent_pos"], obs["environment_state"])
    for _ in range(settle):
        obs, _, _, _, info = env.step(hold)
    assert info["cube_grasped"]
    base = env.unwrapped
    cube = base.model.body("cube").id
    assert base.data.xpos[cube][2] > 0.03, "the cube should hang above the table"
    assert np.linalg.norm(base.data.cvel[cube]) < 0.02, "the cube should hang still"
    return obs


def _sensor_to_world(env, pad: int) -> np.ndarray:
    """The documented sensor frame (x along the jaw to its tip, z outward, away from the other jaw) in world
    coordinates: the pad site frame turned 180 degrees about its x axis. Checked against the jaw geometry."""
    m, d = env.unwrapped.model, env.unwrapped.data
    site = d.site_xmat[m.site(PADS[pad]).id].reshape(3, 3)
    rot = np.column_stack([site[:, 0], -site[:, 1], -site[:, 2]])
    own_tip, other_tip = (d.geom_xpos[m.geom(JAW_TIPS[i]).id] for i in (pad, 1 - pad))
    to_tip = own_tip - d.site_xpos[m.site(PADS[pad]).id]
    assert rot[:, 0] @ to_tip / np.linalg.norm(to_tip) > 0.98, "sensor x must point along the jaw to its tip"
    assert rot[:, 2] @ (own_tip - other_tip) > 0, "sensor z must point away from the other jaw"
    return rot


def test_free_air_gives_zeros():
    env = gym.make("so101_sim/Lift-v0", cameras=(), tactile=True, tactile_grid=(6, 8))
    obs, _ = env.reset(seed=0)
    assert obs["tactile"].shape == (2, 6, 8, 3)
    for _ in range(5):
        obs, *_ = env.step(obs["agent_pos"])
    np.testing.assert_array_equal(obs["tactile"], 0.0)


@pytest.fixture(scope="module")
def held():
    """A cube hanging still in the grip (grid layout); the env stays open for the tests that use it."""
    env = gym.make("so101_sim/Lift-v0", cameras=(), tactile=True, units="radians")
    obs = _hold_cube_still(env)
    yield env, obs
    env.close()


def test_hanging_cube_weight_is_carried_by_the_pads(held):
    env, obs = held
    m = env.unwrapped.model
    weight = m.body_mass[m.body("cube").id] * -m.opt.gravity  # (0, 0, m g): the cube pushes the jaws down by it
    totals = obs["tactile"].sum(axis=(1, 2), dtype=np.float64)  # per pad, sensor frame
    in_world = sum(_sensor_to_world(env, pad) @ totals[pad] for pad in range(2))
    # The squeeze (~tens of newtons per pad) cancels; what is left is the weight, pointing down.
    np.testing.assert_allclose(in_world, -weight, atol=0.03 * np.linalg.norm(weight) + 0.01)


def test_static_squeeze_reads_equal_pressure_on_both_pads(held):
    _, obs = held
    pressure = obs["tactile"][..., 2].sum(axis=(1, 2), dtype=np.float64)
    assert (pressure > 2.0).all(), pressure
    assert abs(pressure[0] - pressure[1]) < 0.03 * pressure.mean(), pressure
    assert np.count_nonzero(np.abs(obs["tactile"][..., 2]) > 1e-6) >= 4  # a footprint, not one taxel


def test_firmer_grip_gives_more_force():
    env = gym.make("so101_sim/Lift-v0", cameras=(), tactile=True, units="radians")
    obs = _hold_cube_still(env, settle=1)
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


def test_contact_on_the_back_of_the_jaw_is_not_pad_pressure():
    """The cube pressed against the outside of the fixed jaw: MuJoCo reports a contact with force between
    them, the pads read nothing (before, every collision geom of the jaw counted)."""
    env = gym.make("so101_sim/Lift-v0", cameras=(), tactile=True, units="radians")
    env.reset(seed=0)
    base = env.unwrapped
    m, d = base.model, base.data
    site = m.site("pad_fixed").id
    back = -_sensor_to_world(env, 0)[:, 2]  # sensor z points out of the back of the jaw; -z into the gap
    a = base.idx.cube_qpos
    cube_geom, gripper = m.geom("cube").id, m.body("gripper").id
    # Slide the cube towards the back of the jaw from outside until it touches the jaw's collision geometry.
    for gap in np.linspace(0.05, 0.0, 101):
        d.qpos[a : a + 3] = d.site_xpos[site] - back * gap
        d.qpos[a + 3 : a + 7] = [1, 0, 0, 0]
        mujoco.mj_forward(m, d)
        touching = [i for i in range(d.ncon) if cube_geom in (d.contact[i].geom1, d.contact[i].geom2)
                    and gripper in (m.geom_bodyid[d.contact[i].geom1], m.geom_bodyid[d.contact[i].geom2])]
        if touching:
            break
    assert touching, "the cube never reached the back of the fixed jaw"
    f6 = np.zeros(6)
    mujoco.mj_contactForce(m, d, touching[0], f6)
    assert f6[0] > 0, "MuJoCo should push the cube off the jaw's back"
    for layout in ("grid", "paxini_dp_s2015"):
        np.testing.assert_array_equal(TactilePads(m, layout=layout).read(d), 0.0, err_msg=layout)


def test_tactile_as_environment_state_for_lerobot():
    env = gym.make("so101_sim/Lift-v0", cameras=(), environment_state="tactile", tactile=True)
    obs, _ = env.reset(seed=0)
    assert obs["environment_state"].shape == (2, 10, 12, 3)
    env = gym.make("so101_sim/Lift-v0", cameras=(), environment_state="tactile", tactile=True,
                   tactile_layout="paxini_dp_s2015")
    assert env.observation_space["environment_state"].shape == (2, 52, 3)
    assert env.reset(seed=0)[0]["environment_state"].shape == (2, 52, 3)
    with pytest.raises(ValueError, match="unknown tactile layout 'paxini_nope'"):
        gym.make("so101_sim/Lift-v0", cameras=(), tactile=True, tactile_layout="paxini_nope")
    with pytest.raises(ValueError, match="needs tactile=True"):
        gym.make("so101_sim/Lift-v0", cameras=(), environment_state="tactile")


def test_paxini_fingertip_layout_reads_the_same_physics_in_sensor_counts(held):
    _, grid_obs = held
    env = gym.make("so101_sim/Lift-v0", cameras=(), tactile=True, units="radians", tactile_layout="paxini_dp_s2015")
    obs = _hold_cube_still(env)
    tips = obs["tactile"]
    assert tips.shape == (2, 52, 3) and tips.dtype == np.float32
    assert env.observation_space["tactile"].shape == (2, 52, 3)
    counts = tips / 0.1
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)  # 0.1 N resolution
    assert tips[..., 2].min() >= 0.0 and tips[..., 2].max() <= 25.5  # Fz: compression only, uint8 counts
    assert np.abs(tips[..., :2]).max() <= 12.8
    pressure = tips[..., 2].sum(axis=1, dtype=np.float64)
    grid_pressure = grid_obs["tactile"][..., 2].sum(axis=(1, 2), dtype=np.float64)
    # The cube touches the jaws within the fingertip's footprint: the same total, to the 0.05 N rounding
    # of each of the 52 taxels; and both fingertips read nearly the same pressure.
    np.testing.assert_allclose(pressure, grid_pressure, atol=52 * 0.05)
    assert abs(pressure[0] - pressure[1]) < 0.05 * pressure.mean() + 0.2, pressure
    assert (tips[..., 2] > 0).sum(axis=1).min() >= 3  # a footprint over several taxels
    names = env.unwrapped.tactile_feature_names("paxini")
    assert len(names) == tips.size == 312
    assert names[:4] == ["paxini.f0.p00.fx", "paxini.f0.p00.fy", "paxini.f0.p00.fz", "paxini.f0.p01.fx"]
    assert names[-1] == "paxini.f1.p51.fz"
    env.close()
