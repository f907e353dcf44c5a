import json

import numpy as np
import pytest

from so101_sim.tactile_grid import (
    PAXINI_GEN3,
    feature_names,
    footprint,
    force_to_grid,
    grid_to_force,
    load_taxel_layout,
    quantize,
    splat_contacts,
    splat_to_taxels,
)


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
def test_splat_rim_contacts_clamp_onto_the_edge_taxels(uv, taxel):
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


SQUARE_MM = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [4.0, 4.0, 0.0]])


def test_taxels_conserve_force_and_a_contact_on_a_taxel_hits_it_alone():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0.0, 4.0, size=(30, 2))
    forces = rng.normal(size=(30, 3))
    out = splat_to_taxels(xy, forces, SQUARE_MM, reach_mm=4.0)
    np.testing.assert_allclose(out.sum(axis=0), forces.sum(axis=0), atol=1e-12)
    on = splat_to_taxels([[4.0, 0.0]], [[1.0, 2.0, 3.0]], SQUARE_MM, reach_mm=4.0)
    np.testing.assert_allclose(on[1], [1.0, 2.0, 3.0], atol=1e-5)
    assert np.abs(np.delete(on, 1, axis=0)).max() < 1e-5
    # midway between two taxels, sharing between the 2 nearest: half each
    mid = splat_to_taxels([[2.0, 0.0]], [[0.0, 0.0, 1.0]], SQUARE_MM, reach_mm=4.0, k=2)
    np.testing.assert_allclose(mid[:, 2], [0.5, 0.5, 0.0, 0.0])


def test_contacts_off_the_sensor_are_dropped():
    out = splat_to_taxels([[2.0, 2.0], [20.0, 2.0]], [[0, 0, 1.0], [0, 0, 7.0]], SQUARE_MM, reach_mm=3.0)
    assert out[:, 2].sum() == pytest.approx(1.0)  # the contact 16 mm beyond the last taxel is not felt
    assert not splat_to_taxels(np.zeros((0, 2)), np.zeros((0, 3)), SQUARE_MM, 3.0).any()
    with pytest.raises(ValueError, match="same number"):
        splat_to_taxels(np.zeros((2, 2)), np.zeros((1, 3)), SQUARE_MM, 3.0)


def test_quantize_is_the_paxini_gen3_encoding():
    """0.1 N counts; Fx, Fy signed 8-bit (-12.8..12.7 N); Fz unsigned 8-bit, compression only (0..25.5 N)."""
    raw = np.array([[0.04, 0.06, 0.149], [-13.0, 13.0, -1.0], [12.74, -12.86, 30.0]])
    expected = np.array([[0.0, 0.1, 0.1], [-12.8, 12.7, 0.0], [12.7, -12.8, 25.5]], dtype=np.float32)
    got = quantize(raw, PAXINI_GEN3)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_paxini_fingertip_layout_comes_from_paxini_sdk():
    from paxini_sdk.sensor_registry import find_by_part_code, load_points

    layout = load_taxel_layout("paxini_dp_s2015")
    variant = find_by_part_code("PXSR-STDDP03G")
    assert variant.sensor_model == "PX6AX-GEN3-DP-S2015-Elite" and variant.nominal_size_mm == 15
    assert layout.n_points == variant.n_points == 52
    np.testing.assert_array_equal(layout.points_mm, np.array(load_points("PXSR-STDDP03G")))
    assert layout.quantization == PAXINI_GEN3
    assert 2.0 < layout.reach_mm < 5.0  # the widest gap between neighbouring taxels, mm
    assert load_taxel_layout("paxini:PXSR-STDDP03D").n_points == 51


def test_layout_from_a_json_file_and_clear_errors(tmp_path):
    vendor_style = tmp_path / "tip.json"
    vendor_style.write_text(json.dumps({"points": [{"x_mm": 0, "y_mm": 0, "z_mm": 1}, {"x_mm": 3, "y_mm": 0}]}))
    layout = load_taxel_layout(vendor_style)
    assert layout.n_points == 2 and layout.quantization is None and layout.name == "tip"
    plain = tmp_path / "plain.json"
    plain.write_text("[[0, 0, 0], [2, 0, 0], [0, 2, 0]]")
    assert load_taxel_layout(plain).points_mm.shape == (3, 3)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"points": [{"x": 0}]}))
    with pytest.raises(ValueError, match=r"bad.json: key 'points'"):
        load_taxel_layout(bad)
    flat = tmp_path / "flat.json"
    flat.write_text("[[0, 0], [1, 1]]")
    with pytest.raises(ValueError, match=r"flat.json: expected taxel points of shape \(P, 3\)"):
        load_taxel_layout(flat)
    with pytest.raises(ValueError, match="unknown tactile layout 'nope'"):
        load_taxel_layout("nope")
    with pytest.raises(ValueError, match="paxini-sdk has no sensor 'PXSR-NOPE'"):
        load_taxel_layout("paxini:PXSR-NOPE")


def test_feature_names_follow_the_paxini_plugin():
    names = feature_names("paxini", n_fingers=2, n_points=52)
    assert len(names) == 2 * 52 * 3 == len(set(names))
    assert names[:3] == ["paxini.f0.p00.fx", "paxini.f0.p00.fy", "paxini.f0.p00.fz"]
    assert names[3 * 52] == "paxini.f1.p00.fx" and names[-1] == "paxini.f1.p51.fz"
