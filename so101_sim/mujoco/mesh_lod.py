"""Lighter render geometry for the robot's visual meshes, decimated once and cached on disk.

The visual meshes of Menagerie's SO-101 total ~348k faces (~410k drawn, the servo mesh is used five times),
far more than a 256x256 camera can show: on a software renderer (Mesa llvmpipe) drawing them costs more than
the pixels. Presets other than ``full`` swap each *visual-only* mesh for a decimated copy:

``fast``    3% of the faces (the robot stays clearly recognisable; 1% starts to look faceted)
``pretty``  15% of the faces (smooth silhouettes under shadows)

Decimation is pure numpy (no extra dependency, installs anywhere): quadric-error edge collapse (Garland &
Heckbert 1997) done in parallel passes: each pass collapses a matching of cheap edges at once, each merged
vertex placed at its quadric optimum, collapses that would flip a neighbouring face rejected. It reaches any
target ratio on these CAD meshes (fast-simplification and pyfqmr stall at ~29% of faces on them; pymeshlab
reaches any target but is a large install). Every mesh keeps at least ``MIN_FACES`` faces. Decimating all
SO-101 meshes takes ~10-20 s on one core, once per machine: the result is stored as ``.npz`` under
``$SO101_SIM_CACHE/meshes`` (default ``~/.cache/so101_sim/meshes``, or under ``$XDG_CACHE_HOME``), keyed by
the SHA-256 of the source file, the target ratio, ``MIN_FACES`` and the algorithm version, written to a
temporary file and renamed into place (concurrent first builds are safe: each rename moves a complete file).

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

ALGORITHM_VERSION = 2  # bump when the output of decimate() changes: old cache entries are then ignored
PRESET_FACE_RATIO: dict[str, float | None] = {"fast": 0.03, "pretty": 0.15, "full": None}
MIN_FACES = 800  # every mesh keeps at least this many faces: the ribbed base needs ~10% to keep its walls


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
    return _solve_positions(q, mean, cell)


def _solve_positions(q: np.ndarray, anchor: np.ndarray, reach: np.ndarray | float) -> np.ndarray:
    """argmin_x [x 1] Q [x 1]^T per row, never more than ``reach`` from ``anchor`` (per axis).

    Well-conditioned 3x3 systems are solved in closed form (cofactors: far faster than a batched eigh);
    rank-deficient ones (flat or edge-like neighbourhoods) return ``anchor``; callers also try other
    candidates (the edge's endpoints) and keep the cheapest.
    """
    a, b = q[:, :3, :3], q[:, :3, 3]
    c00 = a[:, 1, 1] * a[:, 2, 2] - a[:, 1, 2] * a[:, 2, 1]
    c01 = a[:, 1, 2] * a[:, 2, 0] - a[:, 1, 0] * a[:, 2, 2]
    c02 = a[:, 1, 0] * a[:, 2, 1] - a[:, 1, 1] * a[:, 2, 0]
    det = a[:, 0, 0] * c00 + a[:, 0, 1] * c01 + a[:, 0, 2] * c02
    scale = (np.trace(a, axis1=1, axis2=2) / 3.0) ** 3
    ok = np.abs(det) > 1e-9 * np.maximum(scale, 1e-300)
    inv = np.empty_like(a)
    inv[:, 0, 0], inv[:, 1, 0], inv[:, 2, 0] = c00, c01, c02
    inv[:, 0, 1] = a[:, 0, 2] * a[:, 2, 1] - a[:, 0, 1] * a[:, 2, 2]
    inv[:, 1, 1] = a[:, 0, 0] * a[:, 2, 2] - a[:, 0, 2] * a[:, 2, 0]
    inv[:, 2, 1] = a[:, 0, 1] * a[:, 2, 0] - a[:, 0, 0] * a[:, 2, 1]
    inv[:, 0, 2] = a[:, 0, 1] * a[:, 1, 2] - a[:, 0, 2] * a[:, 1, 1]
    inv[:, 1, 2] = a[:, 0, 2] * a[:, 1, 0] - a[:, 0, 0] * a[:, 1, 2]
    inv[:, 2, 2] = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    x = -np.matmul(inv, b[:, :, None])[:, :, 0] / np.where(ok, det, 1.0)[:, None]
    reach = np.asarray(reach, dtype=np.float64)
    if reach.ndim:
        reach = reach[:, None]
    x = anchor + np.clip(x - anchor, -reach, reach)
    return np.where(ok[:, None], x, anchor)


def _quadric_error(q: np.ndarray, x: np.ndarray) -> np.ndarray:
    h = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    return np.maximum((np.matmul(q, h[:, :, None])[:, :, 0] * h).sum(axis=1), 0.0)


def _vertex_quadrics(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Sum of the area-weighted plane quadrics around each vertex, plus boundary-edge constraints."""
    face_q, normals = _face_quadrics(verts, faces)
    flat = face_q.reshape(len(faces), 16)
    q = np.zeros((len(verts), 16))
    for k in range(3):
        np.add.at(q, faces[:, k], flat)
    # Open boundaries: a plane through the edge, perpendicular to its face, keeps borders in place.
    edges = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    key = np.sort(edges, axis=1)
    _, inverse, counts = np.unique(key[:, 0] * len(verts) + key[:, 1], return_inverse=True, return_counts=True)
    border = counts[inverse.ravel()] == 1
    if border.any():
        e = edges[border]
        n = normals[np.repeat(np.arange(len(faces)), 3)[border]]
        d = verts[e[:, 1]] - verts[e[:, 0]]
        length = np.linalg.norm(d, axis=1)
        perp = np.cross(d, n)
        norm = np.linalg.norm(perp, axis=1)
        ok = norm > 0
        perp = perp[ok] / norm[ok, None]
        plane = np.concatenate([perp, -np.einsum("ij,ij->i", perp, verts[e[ok, 0]])[:, None]], axis=1)
        bq = (10.0 * length[ok] ** 2)[:, None, None] * plane[:, :, None] * plane[:, None, :]
        for k in range(2):
            np.add.at(q, e[ok, k], bq.reshape(-1, 16))
    return q.reshape(len(verts), 4, 4)


def _unique_faces(faces: np.ndarray) -> np.ndarray:
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    faces = faces[keep]
    rot = _canonical_rotation(faces).astype(np.int64)
    n = int(faces.max()) + 1 if len(faces) else 1
    _, first = np.unique((rot[:, 0] * n + rot[:, 1]) * n + rot[:, 2], return_index=True)
    return faces[np.sort(first)]


def _collapse_pass(verts, faces, quadrics, target: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """One round of parallel edge collapses; updates ``verts``/``quadrics`` in place.

    Returns the new faces and the number of collapses done.
    """
    n = len(verts)
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    codes = np.unique(edges[:, 0] * n + edges[:, 1])
    e0, e1 = codes // n, codes % n
    qe = quadrics[e0] + quadrics[e1]
    mid = 0.5 * (verts[e0] + verts[e1])
    length = np.linalg.norm(verts[e1] - verts[e0], axis=1)
    pos = _solve_positions(qe, mid, length)
    cost = _quadric_error(qe, pos)
    for candidate in (verts[e0], verts[e1]):  # an endpoint can beat the (clamped or fallback) solution
        c = _quadric_error(qe, candidate)
        better = c < cost
        pos[better], cost[better] = candidate[better], c[better]
    # A matching: each edge that is the cheapest edge of both its vertices (at most one collapse per vertex).
    # Ties (flat regions have many zero-cost edges) are broken at random: with a fixed tie order, mutual
    # minima would be rare and passes would stall.
    order = np.lexsort((rng.random(len(cost)), cost))
    best = np.full(n, -1)
    ends = np.stack([e0[order], e1[order]], axis=1).ravel()
    vertex, first = np.unique(ends, return_index=True)  # first occurrence = cheapest incident edge
    best[vertex] = order[first // 2]
    chosen = np.flatnonzero((best[e0] == np.arange(len(e0))) & (best[e1] == np.arange(len(e0))))
    # Stay close to greedy order: only edges cheaper than the median edge, and not more than needed.
    threshold = np.median(cost)
    chosen = chosen[np.argsort(cost[chosen], kind="stable")]
    cheap = chosen[cost[chosen] <= threshold]
    chosen = cheap if len(cheap) else chosen[:1]
    chosen = chosen[: max(1, (len(faces) - target) // 2)]
    # Reject collapses that would flip a neighbouring face.
    move = np.full(n, -1)
    move[e0[chosen]] = chosen
    move[e1[chosen]] = chosen
    mf = move[faces]
    touched = (mf >= 0).any(axis=1)
    same = (mf[:, 0] >= 0) & ((mf[:, 0] == mf[:, 1]) | (mf[:, 0] == mf[:, 2])) | (
        (mf[:, 1] >= 0) & (mf[:, 1] == mf[:, 2]))
    check = touched & ~same
    f = faces[check]
    m = mf[check]
    p_old = verts[f]
    p_new = np.where((m >= 0)[:, :, None], pos[np.maximum(m, 0)], p_old)
    n_old = np.cross(p_old[:, 1] - p_old[:, 0], p_old[:, 2] - p_old[:, 0])
    n_new = np.cross(p_new[:, 1] - p_new[:, 0], p_new[:, 2] - p_new[:, 0])
    flipped = np.einsum("ij,ij->i", n_old, n_new) <= 0.05 * np.linalg.norm(n_old, axis=1) * np.linalg.norm(
        n_new, axis=1)
    bad = np.unique(m[flipped][m[flipped] >= 0])
    chosen = np.setdiff1d(chosen, bad, assume_unique=False)
    if not len(chosen):
        return faces, 0
    a, b = e0[chosen], e1[chosen]
    verts[a] = pos[chosen]
    quadrics[a] += quadrics[b]
    remap = np.arange(n)
    remap[b] = a
    return _unique_faces(remap[faces]), len(chosen)


def decimate(verts: np.ndarray, faces: np.ndarray, ratio: float, *, max_passes: int = 300
             ) -> tuple[np.ndarray, np.ndarray]:
    """Decimate a triangle mesh to about ``ratio`` of its faces by quadric-error edge collapse.

    Pure numpy: each pass collapses a matching of cheap edges in parallel (each edge the cheapest of both
    its vertices, cheaper than the median edge, no neighbouring face flipped), placing the merged vertex at
    its quadric-error optimum (Garland & Heckbert 1997). If collapses stall above the target (very rare),
    vertex clustering finishes the job. Returns (vertices float32, faces int32), unused vertices dropped.
    Meshes at or below ``MIN_FACES`` faces are returned unchanged.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    verts = np.array(verts, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if verts.ndim != 2 or verts.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"expected vertices (V, 3) and faces (F, 3), got {verts.shape} and {faces.shape}")
    target = max(round(ratio * len(faces)), MIN_FACES)
    if ratio >= 1.0 or len(faces) <= target:
        return verts.astype(np.float32), faces.astype(np.int32)
    faces = _unique_faces(faces)
    quadrics = _vertex_quadrics(verts, faces)
    stalled = 0
    rng = np.random.default_rng(0)  # deterministic: the same input always gives the same mesh
    for _ in range(max_passes):
        if len(faces) <= target:
            break
        faces, done = _collapse_pass(verts, faces, quadrics, target, rng)
        stalled = stalled + 1 if done == 0 else 0
        if stalled >= 3:
            break
    if len(faces) > 1.5 * target:
        logger.info("edge collapse stalled at %d faces (target %d): finishing with vertex clustering",
                    len(faces), target)
        used, inverse = np.unique(faces, return_inverse=True)
        return _decimate_by_clustering(verts[used], inverse.reshape(-1, 3), target)
    used, inverse = np.unique(faces, return_inverse=True)
    return verts[used].astype(np.float32), inverse.reshape(-1, 3).astype(np.int32)


def _decimate_by_clustering(verts: np.ndarray, faces: np.ndarray, target: int, iterations: int = 18
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Vertex clustering with quadric-error representatives, grid size bisected to reach ``target`` faces."""
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
    return cache_dir() / f"{source.stem}-{digest}-r{ratio:.4f}-m{MIN_FACES}-v{ALGORITHM_VERSION}.npz"


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


def _write_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write an .npz next to ``path`` under a temporary name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    try:
        _write_atomic(path, vertices=verts, faces=faces, faces_before=np.int64(len(faces0)))
    except OSError as exc:  # a read-only home: still render with the decimated mesh, rebuild next time
        logger.warning("could not cache %s (%s); set SO101_SIM_CACHE to a writable directory", path, exc)
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
    todo = [(m, _mesh_source(spec, m, base)) for m in _visual_only_meshes(spec)
            if m.file and str(m.file).lower().endswith(".stl")]
    missing = sum(not cache_path(src, ratio).is_file() for _, src in todo)
    if missing:
        from tqdm import tqdm

        logger.info("decimating %d visual meshes for preset %r (once per machine, cached in %s)", missing, preset,
                    cache_dir())
        todo = tqdm(todo, desc=f"decimating SO-101 visual meshes ({preset}, once)", unit="mesh", disable=None)
    swapped = []
    for mesh, source in todo:
        verts, faces, info = load_or_build(source, ratio)
        if info.faces_after >= info.faces_before:
            continue
        mesh.file = ""
        mesh.uservert = verts.astype(np.float32).ravel().tolist()
        mesh.userface = faces.astype(np.int32).ravel().tolist()
        swapped.append(info)
    return swapped
