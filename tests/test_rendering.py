"""Rendering: camera images, presets, the decimated-mesh cache, and collision geometry across presets.

Real MuJoCo with the real (headless) GL backend and Menagerie's SO-101 meshes; images are small (64x64).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MENAGERIE_ROOT", str(Path(__file__).resolve().parents[2] / "shared" / "menagerie"))

# isort: off
import so101_sim  # noqa: F401  (chooses the GL backend: must come before the first `import mujoco`)
import mujoco
from so101_sim.mujoco import mesh_lod
from so101_sim.mujoco.rendering import RENDER_PRESETS, CameraRenderer, gl_info
from so101_sim.mujoco.scene import build_model, menagerie_dir
# isort: on

CAMERAS = ("camera1", "camera2", "camera3")
SIZE = (64, 64)


def _posed_data(model: mujoco.MjModel) -> mujoco.MjData:
    data = mujoco.MjData(model)
    data.qpos[:6] = [0.2, -1.0, 1.0, 1.2, 0.3, 0.6]
    mujoco.mj_forward(model, data)
    return data


@pytest.fixture(scope="module")
def models() -> dict[str, mujoco.MjModel]:
    return {p: build_model(p) for p in ("fast", "full")}


def _render(model, cameras=CAMERAS, size=SIZE) -> dict[str, np.ndarray]:
    data = _posed_data(model)
    with CameraRenderer(model, {c: size for c in cameras}) as renderer:
        return {c: renderer.render(data, c) for c in cameras}


def test_camera_images_are_non_trivial(models):
    images = _render(models["fast"])
    for cam, img in images.items():
        assert img.shape == (*SIZE, 3) and img.dtype == np.uint8, cam
        assert img.std() > 5.0, f"{cam} is (nearly) constant"
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 20, f"{cam} has too few colours"
    # The three cameras look at the scene from different places.
    assert np.abs(images["camera1"].astype(int) - images["camera3"]).mean() > 10
    assert np.abs(images["camera1"].astype(int) - images["camera2"]).mean() > 10


def test_env_returns_camera_images():
    import gymnasium as gym

    env = gym.make("so101_sim/Lift-v0", cameras=CAMERAS, image_size=SIZE[0])
    try:
        obs, _ = env.reset(seed=0)
        obs, *_ = env.step(obs["agent_pos"])
        assert set(obs["pixels"]) == set(CAMERAS)
        for img in obs["pixels"].values():
            assert img.shape == (*SIZE, 3) and img.std() > 5.0
    finally:
        env.close()


def test_presets_differ(models):
    fast, full = _render(models["fast"]), _render(models["full"])
    for cam in CAMERAS:
        diff = np.abs(fast[cam].astype(int) - full[cam]).mean()
        assert diff > 0.5, f"{cam}: fast and full render the same image"
        assert diff < 40, f"{cam}: fast and full differ too much ({diff:.1f}): not the same scene?"
    # Lighter render geometry: far fewer faces drawn by the visual geoms.
    assert _visual_faces(models["fast"]) < 0.1 * _visual_faces(models["full"])


def test_render_all_matches_single_renders(models):
    model = models["fast"]
    data = _posed_data(model)
    sizes = {"camera1": (64, 64), "camera2": (48, 80), "camera3": (64, 64)}
    with CameraRenderer(model, sizes) as renderer:
        together = renderer.render_all(data)
        for cam, size in sizes.items():
            alone = renderer.render(data, cam)
            assert together[cam].shape == alone.shape == (*size, 3)
            assert np.abs(together[cam].astype(int) - alone).max() <= 2, cam
            out = np.zeros_like(alone)
            assert renderer.render(data, cam, out=out) is out and np.array_equal(out, alone)
        subset = renderer.render_all(data, ["camera3"])
        assert list(subset) == ["camera3"]
        with pytest.raises(ValueError, match="camera9"):
            renderer.render_all(data, ["camera9"])
    with pytest.raises(ValueError, match="no camera"):
        CameraRenderer(model, {"nope": (8, 8)})


def test_gl_info_reports_renderer(models):
    with CameraRenderer(models["fast"], {"camera1": (16, 16)}):
        info = gl_info()
    assert info["renderer"] and info["renderer"] != "?" and not info["renderer"].startswith("unknown")
    assert info["software"] in ("True", "False")
    assert info["backend"]


def _visual_faces(model) -> int:
    return int(sum(model.mesh_facenum[model.geom_dataid[g]] for g in range(model.ngeom)
                   if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and model.geom_group[g] == 2))


def _collision_geoms(model) -> list[int]:
    return [g for g in range(model.ngeom) if model.geom_contype[g] or model.geom_conaffinity[g]]


def test_collision_geometry_and_inertia_identical_across_presets(models):
    fast, full = models["fast"], models["full"]
    cf, cu = _collision_geoms(fast), _collision_geoms(full)
    assert len(cf) == len(cu) > 10
    names = lambda m, ids: [m.geom(g).name for g in ids]
    assert names(fast, cf) == names(full, cu)
    for field in ("geom_type", "geom_size", "geom_pos", "geom_quat", "geom_friction", "geom_solref",
                  "geom_solimp", "geom_condim", "geom_priority", "geom_margin", "geom_bodyid", "geom_group"):
        np.testing.assert_array_equal(getattr(fast, field)[cf], getattr(full, field)[cu], err_msg=field)
    meshes = sorted({int(fast.geom_dataid[g]) for g in cf if fast.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH})
    assert meshes, "Menagerie's gripper collision meshes should be present"
    for mid in meshes:
        name = fast.mesh(mid).name
        assert "gripper_part" in name
        other = full.mesh(name).id
        assert fast.mesh_vertnum[mid] == full.mesh_vertnum[other], name
        assert fast.mesh_facenum[mid] == full.mesh_facenum[other], name
        a, b = fast.mesh_vertadr[mid], full.mesh_vertadr[other]
        np.testing.assert_array_equal(fast.mesh_vert[a : a + fast.mesh_vertnum[mid]],
                                      full.mesh_vert[b : b + full.mesh_vertnum[other]])
    for field in ("body_mass", "body_inertia", "body_ipos", "body_iquat"):
        np.testing.assert_allclose(getattr(fast, field), getattr(full, field), rtol=0, atol=1e-12, err_msg=field)


def _small_asset_dir(tmp_path: Path) -> Path:
    assets = tmp_path / "assets"
    assets.mkdir()
    src = menagerie_dir() / "assets"
    for name in ("waveshare_mounting_plate_so101_v2.stl", "moving_jaw_so101_gripper_part1_v1.stl"):
        shutil.copy(src / name, assets / name)
    return assets


def _small_spec(meshdir: Path | None = None) -> mujoco.MjSpec:
    """One visual mesh (replaced) and one collision mesh (kept), as in Menagerie's SO-101."""
    spec = mujoco.MjSpec()
    if meshdir is not None:
        spec.meshdir = str(meshdir)
    spec.add_mesh(name="plate", file="waveshare_mounting_plate_so101_v2.stl")
    spec.add_mesh(name="jaw_part1", file="moving_jaw_so101_gripper_part1_v1.stl")
    body = spec.worldbody.add_body(name="b", mass=0.1, inertia=[1e-4, 1e-4, 1e-4], explicitinertial=True)
    body.add_freejoint()
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="plate", contype=0, conaffinity=0, group=2)
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="jaw_part1", group=4)
    return spec


def test_decimated_cache_is_built_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("SO101_SIM_CACHE", str(tmp_path / "cache"))
    assets = _small_asset_dir(tmp_path)
    spec = _small_spec(assets)
    first = mesh_lod.use_render_meshes(spec, "fast", asset_dir=assets)
    assert [i.name for i in first] == ["waveshare_mounting_plate_so101_v2"]  # the collision mesh is kept
    assert first[0].built and first[0].faces_after < first[0].faces_before
    cached = list((tmp_path / "cache" / "meshes").iterdir())
    assert cached == [first[0].path], f"unexpected cache content (temporary files left?): {cached}"
    stamp = first[0].path.stat().st_mtime_ns
    model = spec.compile()
    assert model.mesh("plate").id >= 0 and model.mesh_facenum[model.mesh("plate").id] == first[0].faces_after
    assert spec.mesh("jaw_part1").file == "moving_jaw_so101_gripper_part1_v1.stl"

    def no_rebuild(*args, **kwargs):
        raise AssertionError("decimate() ran again although the cache holds the mesh")

    monkeypatch.setattr(mesh_lod, "decimate", no_rebuild)
    again = mesh_lod.use_render_meshes(_small_spec(), "fast", asset_dir=assets)
    assert [i.built for i in again] == [False]
    assert again[0].path.stat().st_mtime_ns == stamp
    assert mesh_lod.use_render_meshes(_small_spec(), "full", asset_dir=assets) == []


def test_damaged_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("SO101_SIM_CACHE", str(tmp_path / "cache"))
    source = _small_asset_dir(tmp_path) / "waveshare_mounting_plate_so101_v2.stl"
    path = mesh_lod.cache_path(source, 0.03)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    verts, faces, info = mesh_lod.load_or_build(source, 0.03)
    assert info.built and len(faces) == info.faces_after and faces.max() < len(verts)


def test_decimate_reaches_ratio_and_keeps_shape():
    verts, faces = mesh_lod.read_stl(menagerie_dir() / "assets" / "base_so101_v2.stl")
    target = round(0.15 * len(faces))
    v2, f2 = mesh_lod.decimate(verts, faces, 0.15)
    assert 0.5 * target <= len(f2) <= target
    assert f2.min() >= 0 and f2.max() < len(v2) and len(np.unique(f2)) == len(v2)
    assert np.all((f2[:, 0] != f2[:, 1]) & (f2[:, 1] != f2[:, 2]) & (f2[:, 0] != f2[:, 2]))
    extent = np.ptp(verts, axis=0).max()
    np.testing.assert_allclose(v2.min(axis=0), verts.min(axis=0), atol=0.03 * extent)
    np.testing.assert_allclose(v2.max(axis=0), verts.max(axis=0), atol=0.03 * extent)
    # Every decimated vertex lies near the original surface (here: near an original vertex).
    sample = v2[:: max(1, len(v2) // 200)]
    nearest = np.sqrt(((sample[:, None, :] - verts[None, ::3, :]) ** 2).sum(-1)).min(axis=1)
    assert np.median(nearest) < 0.01 * extent


def test_bad_input_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="ratio"):
        mesh_lod.decimate(np.zeros((3, 3)), np.array([[0, 1, 2]]), 0.0)
    with pytest.raises(ValueError, match=r"\(V, 3\)"):
        mesh_lod.decimate(np.zeros((3, 2)), np.array([[0, 1, 2]]), 0.5)
    bad = tmp_path / "bad.stl"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="bad.stl"):
        mesh_lod.read_stl(bad)
    with pytest.raises(ValueError, match="render preset"):
        mesh_lod.use_render_meshes(_small_spec(), "ultra")
    with pytest.raises(ValueError, match="render_preset"):
        build_model("ultra")
    assert set(RENDER_PRESETS) == set(mesh_lod.PRESET_FACE_RATIO)


def test_ascii_stl_and_clustering_fallback(tmp_path):
    # An ASCII STL (a tetrahedron) reads as 4 shared vertices and 4 faces.
    corners = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    tris = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    lines = ["solid tetra"]
    for tri in tris:
        lines += ["  facet normal 0 0 0", "    outer loop"]
        lines += [f"      vertex {x} {y} {z}" for x, y, z in corners[list(tri)]]
        lines += ["    endloop", "  endfacet"]
    path = tmp_path / "tetra.stl"
    path.write_text("\n".join(lines + ["endsolid tetra"]) + "\n")
    verts, faces = mesh_lod.read_stl(path)
    assert verts.shape == (4, 3) and faces.shape == (4, 3)
    # The vertex-clustering fallback (used if edge collapses ever stall) also reaches its target.
    v, f = mesh_lod.read_stl(menagerie_dir() / "assets" / "base_so101_v2.stl")
    v2, f2 = mesh_lod._decimate_by_clustering(v, f, target=1000)
    assert 300 <= len(f2) <= 1000 and f2.max() < len(v2)
    np.testing.assert_allclose(v2.min(axis=0), v.min(axis=0), atol=0.05 * np.ptp(v, axis=0).max())
