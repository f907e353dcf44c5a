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
    first = mesh_lod.use_render_meshes(spec, 0.03, asset_dir=assets)
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
    again = mesh_lod.use_render_meshes(_small_spec(), 0.03, asset_dir=assets)
    assert [i.built for i in again] == [False]
    assert again[0].path.stat().st_mtime_ns == stamp
    assert mesh_lod.use_render_meshes(_small_spec(), None, asset_dir=assets) == []


def test_damaged_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("SO101_SIM_CACHE", str(tmp_path / "cache"))
    source = _small_asset_dir(tmp_path) / "waveshare_mounting_plate_so101_v2.stl"
    path = mesh_lod.cache_path(source, 0.03)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    verts, faces, info = mesh_lod.load_or_build(source, 0.03)
    assert info.built and len(faces) == info.faces_after and faces.max() < len(verts)


def _surface_samples(verts: np.ndarray, faces: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniformly distributed (by area) on a triangle mesh."""
    p0, p1, p2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    area = np.linalg.norm(np.cross(p1 - p0, p2 - p0), axis=1)
    tri = rng.choice(len(faces), n, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
    return (1 - r1)[:, None] * p0[tri] + (r1 * (1 - r2))[:, None] * p1[tri] + (r1 * r2)[:, None] * p2[tri]


def _one_sided_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each point of ``a`` to the nearest point of ``b`` (chunked brute force)."""
    return np.concatenate([np.sqrt(((chunk[:, None, :] - b[None]) ** 2).sum(-1)).min(axis=1)
                           for chunk in np.array_split(a, max(1, len(a) // 100))])


@pytest.mark.parametrize("mesh", ["base_so101_v2.stl", "moving_jaw_so101_v1.stl"])
def test_decimate_reaches_ratio_and_stays_on_the_surface(mesh):
    """The 'fast' ratio is reached and the decimated surface stays within a few % of the original's extent
    (symmetric distance between points sampled on both surfaces; the sampling floor alone is ~1-2 %)."""
    verts, faces = mesh_lod.read_stl(menagerie_dir() / "assets" / mesh)
    target = max(round(0.03 * len(faces)), mesh_lod.MIN_FACES)
    v2, f2 = mesh_lod.decimate(verts, faces, 0.03)
    assert 0.7 * target <= len(f2) <= 1.1 * target, (len(f2), target)
    assert f2.min() >= 0 and f2.max() < len(v2) and len(np.unique(f2)) == len(v2)  # no unused vertices
    assert np.all((f2[:, 0] != f2[:, 1]) & (f2[:, 1] != f2[:, 2]) & (f2[:, 0] != f2[:, 2]))
    rng = np.random.default_rng(0)
    extent = float(np.ptp(verts, axis=0).max())
    original = _surface_samples(verts, faces, 12000, rng)
    decimated = _surface_samples(v2.astype(np.float64), f2, 12000, rng)
    d = np.concatenate([_one_sided_distances(original[:600], decimated),
                        _one_sided_distances(decimated[:600], original)]) / extent
    assert np.percentile(d, 95) < 0.03 and d.max() < 0.06, (np.percentile(d, 95), d.max())


def test_bad_input_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="ratio"):
        mesh_lod.decimate(np.zeros((3, 3)), np.array([[0, 1, 2]]), 0.0)
    with pytest.raises(ValueError, match=r"\(V, 3\)"):
        mesh_lod.decimate(np.zeros((3, 2)), np.array([[0, 1, 2]]), 0.5)
    with pytest.raises(ValueError, match="face indices"):
        mesh_lod.decimate(np.zeros((3, 3)), np.array([[0, 1, 3]]), 0.5)
    bad = tmp_path / "bad.stl"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="bad.stl"):
        mesh_lod.read_stl(bad)
    with pytest.raises(ValueError, match="face_ratio"):
        mesh_lod.use_render_meshes(_small_spec(), 1.5, asset_dir=tmp_path)
    with pytest.raises(ValueError, match="render_preset must be one of .*fast"):
        build_model("ultra")


def test_ascii_stl_reads_as_shared_vertices(tmp_path):
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
    assert mesh_lod.decimate(verts, faces, 0.5)[1].shape == (4, 3)  # below MIN_FACES: unchanged


def test_presets_are_one_table_and_mesh_lod_imports_no_scene_module():
    """Render presets live in one table; mesh_lod depends on no other project module (no import cycle)."""
    import ast

    for name, preset in RENDER_PRESETS.items():
        assert preset.face_ratio is None or 0 < preset.face_ratio < 1, name
    assert RENDER_PRESETS["full"].face_ratio is None and RENDER_PRESETS["fast"].shadowsize == 0
    tree = ast.parse(Path(mesh_lod.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and m.startswith("so101_sim") for m in imported), imported
