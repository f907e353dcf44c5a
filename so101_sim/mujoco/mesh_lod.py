"""Lighter render geometry for the robot's visual meshes: decimated with meshoptimizer, cached on disk.

The visual meshes of Menagerie's SO-101 total ~348k faces (~410k drawn, the servo mesh is used five times),
far more than a 256x256 camera can show: on a software renderer (Mesa llvmpipe) drawing them costs more than
the pixels. Render presets (:data:`so101_sim.mujoco.rendering.RENDER_PRESETS`) other than ``full`` swap each
*visual-only* mesh for a copy with a fraction of its faces.

Decimation is meshoptimizer's quadric edge-collapse simplifier (``meshopt_simplify``, the library behind
gltfpack and Godot's mesh LODs), ~5-30 ms per mesh. It reaches any target ratio on these CAD meshes
(fast-simplification and pyfqmr stall at ~29% of faces on them). Every mesh keeps at least ``MIN_FACES``
faces, and the simplifier never moves the surface by more than ``TARGET_ERROR`` of the mesh's extent (it
stops above the target ratio rather than cross that bound).

Results are cached as ``.npz`` under ``$SO101_SIM_CACHE/meshes`` (default ``~/.cache/so101_sim/meshes``, or
under ``$XDG_CACHE_HOME``), keyed by the SHA-256 of the source file, the ratio, ``MIN_FACES`` and
``ALGORITHM``, written to a temporary file and renamed into place (concurrent first builds are safe: each
rename moves a complete file). A damaged entry is rebuilt; a read-only cache only costs a rebuild next time.

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

TARGET_ERROR = 0.05  # the simplifier's error bound, relative to the mesh extent
ALGORITHM = "meshopt-e0.05"  # part of every cache key: change it when the output of decimate() changes
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
    """Merge identical triangle corners (3F, 3) into shared vertices; returns (vertices, faces).

    STL stores every triangle's corners separately; the simplifier can only collapse edges shared by faces.
    """
    verts, inverse = np.unique(corners, axis=0, return_inverse=True)
    return verts, inverse.reshape(-1, 3).astype(np.int32)


# ---------------------------------------------------------------------------------------------- decimation
def decimate(verts: np.ndarray, faces: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """About ``ratio`` of the faces of a triangle mesh (at least ``MIN_FACES``), by meshoptimizer.

    Returns (vertices float32, faces int32) with unused vertices dropped. Meshes at or below the target are
    returned unchanged. Deterministic: the same input always gives the same mesh.
    """
    import meshoptimizer

    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    verts = np.asarray(verts, dtype=np.float32)
    faces = np.asarray(faces)
    if verts.ndim != 2 or verts.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"expected vertices (V, 3) and faces (F, 3), got {verts.shape} and {faces.shape}")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(verts)):
        raise ValueError(f"face indices must lie in [0, {len(verts)}), got [{faces.min()}, {faces.max()}]")
    target = max(round(ratio * len(faces)), MIN_FACES)
    if ratio >= 1.0 or len(faces) <= target:
        return verts, faces.astype(np.int32)
    indices = np.ascontiguousarray(faces, dtype=np.uint32).ravel()
    out = np.empty_like(indices)
    n = meshoptimizer.simplify(out, indices, np.ascontiguousarray(verts), target_index_count=3 * target,
                               target_error=TARGET_ERROR)
    used, inverse = np.unique(out[:n], return_inverse=True)
    return verts[used], inverse.reshape(-1, 3).astype(np.int32)


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
    return cache_dir() / f"{source.stem}-{digest}-r{ratio:.4f}-m{MIN_FACES}-{ALGORITHM}.npz"


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
    logger.info("decimated %s: %d -> %d faces in %.3f s (cached in %s)", source.name, len(faces0), len(faces),
                info.seconds, path)
    return verts, faces, info


# ---------------------------------------------------------------------------------------------- MjSpec
def visual_only_meshes(spec) -> list:
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


def use_render_meshes(spec, face_ratio: float | None, asset_dir: str | os.PathLike) -> list[LodMesh]:
    """Swap the visual-only STL meshes of ``spec`` for copies with ``face_ratio`` of their faces.

    ``asset_dir`` is the directory relative mesh file names are resolved against (Menagerie's SO-101 asset
    dir for the scene). ``face_ratio=None`` keeps every mesh. Returns one :class:`LodMesh` per swapped mesh.
    """
    if face_ratio is None:
        return []
    if not 0.0 < face_ratio <= 1.0:
        raise ValueError(f"face_ratio must be in (0, 1] or None, got {face_ratio}")
    base = Path(asset_dir)
    todo = [(m, Path(m.file) if Path(m.file).is_absolute() else base / m.file) for m in visual_only_meshes(spec)
            if m.file and str(m.file).lower().endswith(".stl")]
    missing = sum(not cache_path(src, face_ratio).is_file() for _, src in todo if src.is_file())
    if missing:
        logger.info("decimating %d visual meshes to %.0f%% (once per machine, cached in %s)", missing,
                    100 * face_ratio, cache_dir())
    swapped = []
    for mesh, source in todo:
        verts, faces, info = load_or_build(source, face_ratio)
        if info.faces_after >= info.faces_before:
            continue
        mesh.file = ""
        mesh.uservert = verts.astype(np.float32).ravel().tolist()
        mesh.userface = faces.astype(np.int32).ravel().tolist()
        swapped.append(info)
    return swapped
