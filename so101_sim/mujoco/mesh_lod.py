"""Lighter render geometry for the robot's visual meshes, decimated once and cached on disk.

The visual meshes of Menagerie's SO-101 total ~348k faces (~410k drawn, the servo mesh is used five times),
far more than a 256x256 camera can show: on a software renderer (Mesa llvmpipe) drawing them costs more than
the pixels. Presets other than ``full`` swap each *visual-only* mesh for a decimated copy:

``fast``    3% of the faces (the robot stays clearly recognisable; 1% starts to look faceted)
``pretty``  15% of the faces (smooth silhouettes under shadows)

Decimation is pure numpy (no extra dependency): vertex clustering on a uniform grid with the quadric-error
representative of each cell (Lindstrom, "Out-of-core simplification of large polygonal models", 2000). The
grid size is bisected until the face count reaches the target ratio, which works on any mesh (edge-collapse
libraries such as fast-simplification and pyfqmr stall at ~29% on these CAD meshes, pymeshlab is a large
install). A mesh of 54k faces takes ~0.1-0.3 s; the result is stored once per machine as ``.npz`` under
``$SO101_SIM_CACHE`` (default ``~/.cache/so101_sim``) ``/meshes/``, keyed by the SHA-256 of the source file,
the target ratio and the algorithm version, written to a temporary file and renamed into place.

What is never replaced: meshes used by any collision geom (``*_gripper_part*``, group 3/4, contype/conaffinity
set) and meshes of geoms whose body takes its inertia from its geoms (the camera mount): collision geometry,
masses and inertias are identical in all presets.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ALGORITHM_VERSION = 1
PRESET_FACE_RATIO: dict[str, float | None] = {"fast": 0.03, "pretty": 0.15, "full": None}
MIN_FACES = 64  # small meshes are not worth decimating below this many faces


# ---------------------------------------------------------------------------------------------- mesh I/O
def read_stl(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) float64 and faces (F, 3) int32 of a binary or ASCII STL, duplicate vertices welded."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) >= 84:
        (n,) = struct.unpack_from("<I", raw, 80)
        if 84 + 50 * n == len(raw):
            rec = np.frombuffer(raw, dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]), count=n,
                                offset=84)
            return weld(rec["v"].reshape(-1, 3).astype(np.float64))
    text = raw.decode("ascii", errors="replace")
    if not text.lstrip().startswith("solid"):
        raise ValueError(f"{path}: not a binary STL (size does not match its face count) nor an ASCII STL")
    coords = [line.split()[1:4] for line in text.splitlines() if line.strip().startswith("vertex")]
    if not coords or len(coords) % 3:
        raise ValueError(f"{path}: ASCII STL with {len(coords)} vertices (expected a positive multiple of 3)")
    return weld(np.asarray(coords, dtype=np.float64))


def weld(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge identical triangle corners (3F, 3) into shared vertices; returns (vertices, faces)."""
    verts, inverse = np.unique(corners, axis=0, return_inverse=True)
    return verts, inverse.reshape(-1, 3).astype(np.int32)


# ---------------------------------------------------------------------------------------------- decimation
def _face_quadrics(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted plane quadric (4x4) of each face, and the unit normals (zero for degenerate faces)."""
    p0, p1, p2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    cross = np.cross(p1 - p0, p2 - p0)
    double_area = np.linalg.norm(cross, axis=1)
    normals = np.divide(cross, double_area[:, None], out=np.zeros_like(cross), where=double_area[:, None] > 0)
    plane = np.concatenate([normals, -np.einsum("ij,ij->i", normals, p0)[:, None]], axis=1)
    quadrics = 0.5 * double_area[:, None, None] * plane[:, :, None] * plane[:, None, :]
    return quadrics, normals


def _cluster(verts: np.ndarray, faces: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Cluster id of each vertex on a grid of ``cell`` metres, and the surviving faces in cluster ids."""
    grid = np.floor((verts - verts.min(axis=0)) / cell).astype(np.int64)
    _, cluster = np.unique(grid, axis=0, return_inverse=True)
    cluster = cluster.ravel()
    cf = cluster[faces]
    keep = (cf[:, 0] != cf[:, 1]) & (cf[:, 1] != cf[:, 2]) & (cf[:, 0] != cf[:, 2])
    cf = cf[keep]
    # One face per (vertex set, orientation): thin walls keep both sides, exact duplicates go.
    rolled = _canonical_rotation(cf)
    _, first = np.unique(rolled, axis=0, return_index=True)
    return cluster, cf[np.sort(first)]


def _canonical_rotation(tri: np.ndarray) -> np.ndarray:
    """Rotate each triangle so that its smallest index comes first (keeps the winding)."""
    shift = np.argmin(tri, axis=1)
    idx = (shift[:, None] + np.arange(3)[None, :]) % 3
    return np.take_along_axis(tri, idx, axis=1)


def _representatives(verts: np.ndarray, faces: np.ndarray, cluster: np.ndarray, cell: float) -> np.ndarray:
    """Position of each cluster minimising the summed quadric error of the faces around it."""
    n = int(cluster.max()) + 1
    face_q, _ = _face_quadrics(verts, faces)
    q = np.zeros((n, 4, 4))
    for k in range(3):
        np.add.at(q, cluster[faces[:, k]], face_q)
    counts = np.bincount(cluster, minlength=n).astype(np.float64)
    mean = np.zeros((n, 3))
    np.add.at(mean, cluster, verts)
    mean /= np.maximum(counts, 1.0)[:, None]
    a, b = q[:, :3, :3], q[:, :3, 3]
    # Solve A x = -b around the cluster mean with small singular values truncated (flat or edge-like
    # clusters have a rank-deficient A: move only along the well-determined directions).
    w, u = np.linalg.eigh(a)
    scale = np.maximum(w[:, -1:], 1e-30)
    inv_w = np.where(w > 1e-3 * scale, 1.0 / np.where(w > 0, w, 1.0), 0.0)
    rhs = -b - np.einsum("nij,nj->ni", a, mean)
    delta = np.einsum("nij,nj,nkj->nk", u, inv_w * np.einsum("nji,nj->ni", u, rhs), u)
    # Keep each representative close to its cell (a wild solve would make spikes).
    delta = np.clip(delta, -cell, cell)
    return mean + delta


def decimate(verts: np.ndarray, faces: np.ndarray, ratio: float, *, iterations: int = 18
             ) -> tuple[np.ndarray, np.ndarray]:
    """Decimate a triangle mesh to about ``ratio`` of its faces (never more faces than ``ratio`` asks).

    Returns new (vertices float32, faces int32). Meshes already at or below ``MIN_FACES`` are returned as is.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    verts = np.asarray(verts, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if verts.ndim != 2 or verts.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"expected vertices (V, 3) and faces (F, 3), got {verts.shape} and {faces.shape}")
    target = max(int(round(ratio * len(faces))), MIN_FACES)
    if ratio >= 1.0 or len(faces) <= target:
        return verts.astype(np.float32), faces.astype(np.int32)
    extent = float(np.max(verts.max(axis=0) - verts.min(axis=0)))
    lo, hi = extent * 1e-5, extent  # cell sizes giving too many / too few faces
    best = None
    for _ in range(iterations):
        cell = np.sqrt(lo * hi)
        cluster, cfaces = _cluster(verts, faces, cell)
        if len(cfaces) > target:
            lo = cell
        else:
            hi = cell
            best = (cell, cluster, cfaces)
            if len(cfaces) >= 0.9 * target:
                break
    if best is None:
        cluster, cfaces = _cluster(verts, faces, hi)
        best = (hi, cluster, cfaces)
    cell, cluster, cfaces = best
    reps = _representatives(verts, faces, cluster, cell)
    used, new_faces = np.unique(cfaces, return_inverse=True)
    return reps[used].astype(np.float32), new_faces.reshape(-1, 3).astype(np.int32)


# ---------------------------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    """Where decimated meshes live: ``$SO101_SIM_CACHE/meshes`` or ``~/.cache/so101_sim/meshes``."""
    root = os.environ.get("SO101_SIM_CACHE")
    if root:
        return Path(root) / "meshes"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "so101_sim" / "meshes"


_HASHES: dict[tuple[str, int, int], str] = {}


def _file_hash(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _HASHES[key]


def cache_path(source: Path, ratio: float) -> Path:
    digest = _file_hash(source)[:16]
    return cache_dir() / f"{source.stem}-{digest}-r{ratio:.4f}-v{ALGORITHM_VERSION}.npz"


@dataclass(frozen=True)
class LodMesh:
    """One decimated mesh: where it is cached, its face counts, and whether this call built it."""

    name: str
    source: Path
    path: Path
    faces_before: int
    faces_after: int
    built: bool
    seconds: float


def load_or_build(source: str | os.PathLike, ratio: float) -> tuple[np.ndarray, np.ndarray, LodMesh]:
    """The decimated (vertices, faces) of an STL file, from the cache or built once and cached atomically."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"mesh file {source} not found (the Menagerie asset dir may be incomplete)")
    path = cache_path(source, ratio)
    start = time.perf_counter()
    if path.is_file():
        try:
            with np.load(path) as z:
                verts, faces, before = z["vertices"], z["faces"], int(z["faces_before"])
            info = LodMesh(source.stem, source, path, before, len(faces), False, time.perf_counter() - start)
            return verts, faces, info
        except (OSError, KeyError, ValueError) as exc:  # a damaged cache entry: rebuild it
            logger.warning("rebuilding damaged mesh cache entry %s (%s)", path, exc)
    verts0, faces0 = read_stl(source)
    verts, faces = decimate(verts0, faces0, ratio)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, vertices=verts, faces=faces, faces_before=np.int64(len(faces0)))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    info = LodMesh(source.stem, source, path, len(faces0), len(faces), True, time.perf_counter() - start)
    logger.info("decimated %s: %d -> %d faces in %.2f s (cached in %s)", source.name, len(faces0), len(faces),
                info.seconds, path)
    return verts, faces, info


# ---------------------------------------------------------------------------------------------- MjSpec
def _visual_only_meshes(spec) -> list:
    """Meshes every user of which is a pure visual geom of a body with explicit inertia."""
    import mujoco

    users: dict[str, list] = {}
    for geom in spec.geoms:
        if geom.type == mujoco.mjtGeom.mjGEOM_MESH and geom.meshname:
            users.setdefault(geom.meshname, []).append(geom)

    def visual_only(geom) -> bool:
        body = geom.parent
        inertia_from_geoms = not getattr(body, "explicitinertial", True)
        return geom.contype == 0 and geom.conaffinity == 0 and not inertia_from_geoms

    return [m for m in spec.meshes if m.name in users and all(visual_only(g) for g in users[m.name])]


def _mesh_source(spec, mesh, asset_dir: Path | None) -> Path:
    file = Path(mesh.file)
    if file.is_absolute():
        return file
    if asset_dir is None:
        from so101_sim.mujoco.scene import menagerie_dir

        asset_dir = menagerie_dir() / (spec.meshdir or "")
    return asset_dir / file


def use_render_meshes(spec, preset: str, asset_dir: str | os.PathLike | None = None) -> list[LodMesh]:
    """Swap the visual-only meshes of ``spec`` for the preset's decimated copies (built once, then cached).

    ``asset_dir`` is the directory mesh files are relative to (default: Menagerie's SO-101 asset dir).
    Returns one :class:`LodMesh` per swapped mesh (empty for ``full``).
    """
    if preset not in PRESET_FACE_RATIO:
        raise ValueError(f"render preset must be one of {tuple(PRESET_FACE_RATIO)}, got {preset!r}")
    ratio = PRESET_FACE_RATIO[preset]
    if ratio is None:
        return []
    base = Path(asset_dir) if asset_dir is not None else None
    swapped = []
    for mesh in _visual_only_meshes(spec):
        if not mesh.file or not str(mesh.file).lower().endswith(".stl"):
            continue
        verts, faces, info = load_or_build(_mesh_source(spec, mesh, base), ratio)
        if info.faces_after >= info.faces_before:
            continue
        mesh.file = ""
        mesh.uservert = verts.astype(np.float32).ravel().tolist()
        mesh.userface = faces.astype(np.int32).ravel().tolist()
        swapped.append(info)
    return swapped
