import time

import numpy as np
import pytest

from so101_sim.tactile_grid import footprint, force_to_grid, grid_to_force, splat_contacts


def test_force_to_grid_shapes_and_conservation():
    rng = np.random.default_rng(0)
    forces = rng.normal(size=(7, 2, 3)).astype(np.float32) * 5
    grid = force_to_grid(forces, (10, 12))
    assert grid.shape == (7, 2, 10, 12, 3) and grid.dtype == np.float32
    np.testing.assert_allclose(grid.sum(axis=(-3, -2), dtype=np.float64), forces, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grid_to_force(grid), forces, rtol=1e-5, atol=1e-5)
    assert force_to_grid(np.array([1.0, 2.0, 3.0]), (4, 5)).shape == (4, 5, 3)


def test_force_to_grid_is_a_centred_symmetric_footprint():
    w = footprint((10, 12), sigma=0.25)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(w, w[::-1, :])  # symmetric about the pad centre
    np.testing.assert_allclose(w, w[:, ::-1])
    assert w[4:6, 5:7].min() == pytest.approx(w.max(), rel=1e-12)  # peak in the middle four taxels
    assert w[0, 0] < w[5, 6] / 10
    # a wider footprint spreads more evenly; each grid is the force times the same weights
    assert footprint((10, 12), sigma=2.0).std() < w.std()
    g = force_to_grid(np.array([0.0, 0.0, 2.0]), (10, 12), sigma=0.25, dtype=np.float64)
    np.testing.assert_allclose(g[..., 2], 2.0 * w)
    assert not g[..., :2].any()


@pytest.mark.parametrize("bad", [np.zeros(2), np.zeros((4, 2))])
def test_force_to_grid_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        force_to_grid(bad)


def test_splat_conserves_total_force():
    rng = np.random.default_rng(1)
    uv = rng.uniform(size=(50, 2))
    forces = rng.normal(size=(50, 3))
    grid = splat_contacts(uv, forces, (10, 12), dtype=np.float64)
    assert grid.shape == (10, 12, 3)
    np.testing.assert_allclose(grid.sum(axis=(0, 1)), forces.sum(0), rtol=1e-12, atol=1e-12)


def test_splat_point_on_taxel_centre_hits_one_taxel():
    # taxel (r=3, c=7) of a 10x12 pad has its centre at u=(7+.5)/12, v=(3+.5)/10
    grid = splat_contacts([[7.5 / 12, 3.5 / 10]], [[1.0, 2.0, 3.0]], (10, 12), dtype=np.float64)
    np.testing.assert_allclose(grid[3, 7], [1.0, 2.0, 3.0])
    assert np.count_nonzero(grid.any(axis=-1)) == 1


def test_splat_midway_splits_bilinearly():
    # halfway between the centres of columns 2 and 3 and a quarter of the way from row 5 to row 6
    u, v = 3.0 / 12, (5.5 + 0.25) / 10
    grid = splat_contacts([[u, v]], [[0.0, 0.0, 8.0]], (10, 12), dtype=np.float64)[..., 2]
    np.testing.assert_allclose(grid[5, 2:4], [0.5 * 0.75 * 8, 0.5 * 0.75 * 8])
    np.testing.assert_allclose(grid[6, 2:4], [0.5 * 0.25 * 8, 0.5 * 0.25 * 8])
    assert grid.sum() == pytest.approx(8.0)


@pytest.mark.parametrize(
    "uv, taxel",
    [([0.0, 0.0], (0, 0)), ([1.0, 1.0], (9, 11)), ([1.0, 0.0], (0, 11)), ([-0.2, 1.3], (9, 0))],
)
def test_splat_edge_and_outside_contacts_clamp_to_the_rim(uv, taxel):
    grid = splat_contacts([uv], [[0.0, 1.0, 0.0]], (10, 12), dtype=np.float64)
    assert grid[taxel][1] == pytest.approx(1.0)
    assert grid.sum() == pytest.approx(1.0)


def test_splat_no_contacts_and_degenerate_grids():
    assert not splat_contacts(np.zeros((0, 2)), np.zeros((0, 3)), (4, 4)).any()
    g = splat_contacts([[0.3, 0.9], [0.7, 0.1]], [[1, 0, 0], [0, 1, 0]], (1, 1), dtype=np.float64)
    np.testing.assert_allclose(g[0, 0], [1, 1, 0])
    g = splat_contacts([[0.3, 0.9]], [[0, 0, 2]], (1, 5), dtype=np.float64)
    assert g.sum() == pytest.approx(2.0)


def test_splat_rejects_bad_input():
    with pytest.raises(ValueError, match="same number"):
        splat_contacts(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        splat_contacts([[np.nan, 0.5]], [[1, 0, 0]])
    with pytest.raises(ValueError, match="grid_shape"):
        splat_contacts([[0.5, 0.5]], [[1, 0, 0]], (0, 3))


def test_splat_is_fast_enough_for_a_physics_loop():
    rng = np.random.default_rng(2)
    uv, forces = rng.uniform(size=(20, 2)), rng.normal(size=(20, 3))
    splat_contacts(uv, forces)
    t0 = time.perf_counter()
    for _ in range(200):
        splat_contacts(uv, forces)
    per_call = (time.perf_counter() - t0) / 200
    assert per_call < 2e-3, f"{per_call * 1e6:.0f} us per call"
