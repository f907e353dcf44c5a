"""Reading Isaac Lab HDF5 demos: file checks, the per-demo schema, validation and block reads.

Nothing here loads a whole file: demos are inspected from HDF5 metadata, small numeric datasets are read per
demo, and image datasets are read in blocks of frames.
"""

from __future__ import annotations

import itertools
import json
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from so101_sim.adapters import radians_to_units
from so101_sim.convert.errors import ConversionError, DemoError
from so101_sim.convert.mapping import Camera, Finger, Mapping, Term
from so101_sim.isaaclab_hdf5 import sorted_demo_names
from so101_sim.tactile_grid import force_to_grid

log = logging.getLogger(__name__)

MIN_FRAMES = 2  # LeRobot's per-episode stats are undefined for a single frame


@dataclass(frozen=True)
class DemoInfo:
    name: str
    num_samples: int | None
    success: bool | None
    seed: int | None


class SourceFile:
    """An open Isaac Lab HDF5 file (``data/demo_<i>``), with errors that name the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConversionError(f"{self.path}: input file not found")
        try:
            self.h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise ConversionError(
                f"{self.path}: not a readable HDF5 file (truncated, still being written, or not HDF5): {exc}"
            ) from exc
        data = self.h5.get("data")
        if not isinstance(data, h5py.Group):
            keys = list(self.h5.keys())
            self.h5.close()
            raise ConversionError(
                f"{self.path}: no 'data' group, so not an Isaac Lab HDF5DatasetFileHandler file "
                f"(top-level keys: {keys})"
            )
        self.data = data
        self.env_args = self._env_args()

    def _env_args(self) -> dict[str, Any]:
        raw = self.data.attrs.get("env_args")
        if raw is None:
            return {}
        try:
            value = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            log.warning("%s: data.attrs['env_args'] is not valid JSON (%s); ignoring it", self.path, exc)
            return {}
        return value if isinstance(value, dict) else {}

    def demo_names(self) -> list[str]:
        names = sorted_demo_names(self.data.keys())
        if not names:
            raise ConversionError(f"{self.path}: 'data' holds no demo_<i> groups (found {list(self.data.keys())[:10]})")
        return names

    def info(self, name: str) -> DemoInfo:
        try:
            attrs = self.data[name].attrs
            num = attrs.get("num_samples")
            success = attrs.get("success")
            seed = attrs.get("seed")
        except (OSError, KeyError, RuntimeError) as exc:
            raise DemoError(self.path, name, f"unreadable demo group (corrupt or truncated file): {exc}") from exc
        return DemoInfo(
            name=name,
            num_samples=None if num is None else int(num),
            success=None if success is None else bool(success),
            seed=None if seed is None else int(seed),
        )

    def close(self) -> None:
        self.h5.close()


# ------------------------------------------------------------------------------------------------------------
# Schema: the shapes that every demo of one dataset must share (taken from the first good demo).


@dataclass
class TactileSchema:
    fingers: list[Finger]
    kinds: list[str]  # "force" (T, 3) or "grid" (T, R, C, 3), per finger
    grid_shape: tuple[int, int]
    sigma: float
    grid_feature: str
    force_feature: str

    @property
    def num_fingers(self) -> int:
        return len(self.fingers)


@dataclass
class Schema:
    vectors: dict[str, list[tuple[Term, int]]]
    cameras: list[tuple[Camera, tuple[int, int, int]]]
    tactile: TactileSchema | None
    units: str
    names: dict[str, list[str]] = field(default_factory=dict)

    def features(self, use_videos: bool) -> dict[str, dict]:
        feats: dict[str, dict] = {}
        for feat, terms in self.vectors.items():
            names = [n for term, size in terms for n in term.dim_names(size)]
            feats[feat] = {"dtype": "float32", "shape": (len(names),), "names": names}
        for cam, shape in self.cameras:
            feats[cam.feature] = {
                "dtype": "video" if use_videos else "image",
                "shape": shape,
                "names": ["height", "width", "channels"],
            }
        if self.tactile:
            t = self.tactile
            feats[t.grid_feature] = {
                "dtype": "float32",
                "shape": (t.num_fingers, *t.grid_shape, 3),
                "names": ["finger", "row", "col", "xyz"],
            }
            feats[t.force_feature] = {"dtype": "float32", "shape": (t.num_fingers, 3), "names": ["finger", "xyz"]}
        return feats


def _get(src: SourceFile, demo: h5py.Group, name: str, key: str) -> h5py.Dataset:
    obj = demo.get(key)
    if obj is None:
        parent = key.rsplit("/", 1)[0] if "/" in key else ""
        group = demo.get(parent) if parent else demo
        have = sorted(group.keys()) if isinstance(group, h5py.Group) else []
        raise DemoError(src.path, name, f"missing (the demo has {parent or 'keys'}: {have})", key=key)
    if not isinstance(obj, h5py.Dataset):
        raise DemoError(src.path, name, "is a group, expected a dataset", key=key)
    return obj


def _numeric_size(src: SourceFile, name: str, term: Term, ds: h5py.Dataset) -> int:
    if ds.dtype.kind not in "fiub":
        raise DemoError(src.path, name, "not numeric", key=term.key, expected="a float/int dtype", found=ds.dtype)
    if ds.ndim == 1:
        size = 1
    elif ds.ndim == 2:
        size = int(ds.shape[1])
    else:
        raise DemoError(src.path, name, "wrong rank", key=term.key, expected="(T,) or (T, n)", found=ds.shape)
    if term.so101_joints and size != 6:
        raise DemoError(src.path, name, "SO-101 joint term", key=term.key, expected="(T, 6)", found=ds.shape)
    if term.names is not None and len(term.names) != size:
        raise DemoError(
            src.path,
            name,
            f"the mapping names {len(term.names)} dimensions",
            key=term.key,
            expected=f"(T, {len(term.names)})",
            found=ds.shape,
        )
    return size


def inspect_demo(src: SourceFile, name: str, mapping: Mapping, schema: Schema | None) -> tuple[int, Schema]:
    """Check one demo's structure (keys, ranks, dtypes, lengths) from metadata only; returns (T, schema).

    With ``schema=None`` the demo defines the schema; otherwise it must match it.
    """
    info = src.info(name)
    try:
        demo = src.data[name]
        return _inspect(src, name, demo, info, mapping, schema)
    except DemoError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise DemoError(src.path, name, f"unreadable (corrupt or truncated file): {exc}") from exc


def _inspect(
    src: SourceFile, name: str, demo: h5py.Group, info: DemoInfo, mapping: Mapping, schema: Schema | None
) -> tuple[int, Schema]:
    action_ref = mapping.vectors["action"][0].key
    if info.num_samples == 0:
        raise DemoError(src.path, name, "empty demo (attrs['num_samples'] is 0)")
    ref = _get(src, demo, name, action_ref)
    if ref.ndim == 0:
        raise DemoError(src.path, name, "wrong rank", key=action_ref, expected="(T, A)", found=ref.shape)
    ref_len = int(ref.shape[0])
    if info.num_samples is not None and info.num_samples != ref_len:
        raise DemoError(
            src.path,
            name,
            "length disagrees with attrs['num_samples']",
            key=action_ref,
            expected=f"{info.num_samples} rows",
            found=f"{ref_len} rows",
        )
    T = ref_len
    if T == 0:
        raise DemoError(src.path, name, "empty demo (0 samples)", key=action_ref)
    if T < MIN_FRAMES:
        raise DemoError(
            src.path, name, f"only {T} sample; a LeRobot episode needs at least {MIN_FRAMES}", key=action_ref
        )

    def check_len(key: str, ds: h5py.Dataset) -> None:
        if ds.shape[0] != T:
            raise DemoError(
                src.path,
                name,
                f"length mismatch with '{action_ref}'",
                key=key,
                expected=f"{T} rows",
                found=f"{ds.shape[0]} rows",
            )

    vectors: dict[str, list[tuple[Term, int]]] = {}
    for feat, terms in mapping.vectors.items():
        vectors[feat] = []
        for term in terms:
            ds = _get(src, demo, name, term.key)
            size = _numeric_size(src, name, term, ds)
            check_len(term.key, ds)
            vectors[feat].append((term, size))

    cameras = []
    for cam in mapping.cameras:
        ds = _get(src, demo, name, cam.key)
        if ds.ndim != 4 or ds.shape[-1] != 3 or ds.dtype != np.uint8:
            expected = "(T, H, W, 3) uint8" if schema is None else _cam_expect(schema, cam)
            raise DemoError(
                src.path,
                name,
                "not an RGB image sequence",
                key=cam.key,
                expected=expected,
                found=f"{ds.shape} {ds.dtype}",
            )
        check_len(cam.key, ds)
        cameras.append((cam, tuple(int(s) for s in ds.shape[1:])))

    tactile = _inspect_tactile(src, name, demo, mapping, schema, check_len)

    found = Schema(vectors=vectors, cameras=cameras, tactile=tactile, units=mapping.units)
    if schema is not None:
        _match(src, name, schema, found)
        return T, schema
    return T, found


def _cam_expect(schema: Schema, cam: Camera) -> str:
    for c, shape in schema.cameras:
        if c == cam:
            return f"(T, {shape[0]}, {shape[1]}, 3) uint8"
    return "(T, H, W, 3) uint8"


def _inspect_tactile(src, name, demo, mapping: Mapping, schema: Schema | None, check_len) -> TactileSchema | None:
    t = mapping.tactile
    if t is None:
        return None
    if schema is not None and schema.tactile is None:
        return None  # the dataset has no tactile features (optional and absent from the first demo)
    present = [f.key in demo for f in t.fingers]
    if t.optional and schema is None and not any(present):
        log.info(
            "%s: %s has no tactile keys %s; converting without tactile features",
            src.path,
            name,
            [f.key for f in t.fingers],
        )
        return None
    kinds, grid_shapes = [], set()
    for finger in t.fingers:
        ds = _get(src, demo, name, finger.key)
        if ds.dtype.kind not in "fiu":
            raise DemoError(
                src.path,
                name,
                "tactile source not numeric",
                key=finger.key,
                expected="float (T, 3) or (T, R, C, 3)",
                found=ds.dtype,
            )
        if ds.ndim == 2 and ds.shape[1] == 3:
            kinds.append("force")
        elif ds.ndim == 4 and ds.shape[-1] == 3:
            kinds.append("grid")
            grid_shapes.add((int(ds.shape[1]), int(ds.shape[2])))
        else:
            raise DemoError(
                src.path,
                name,
                "tactile source has the wrong shape",
                key=finger.key,
                expected="(T, 3) force or (T, R, C, 3) grid",
                found=ds.shape,
            )
        check_len(finger.key, ds)
    if len(grid_shapes) > 1:
        raise DemoError(
            src.path,
            name,
            "tactile grids of different sizes",
            key=t.fingers[0].key,
            expected="one (R, C) for all fingers",
            found=sorted(grid_shapes),
        )
    grid_shape = grid_shapes.pop() if grid_shapes else t.grid_shape
    return TactileSchema(list(t.fingers), kinds, grid_shape, t.sigma, t.grid_feature, t.force_feature)


def _match(src: SourceFile, name: str, schema: Schema, found: Schema) -> None:
    for feat, terms in schema.vectors.items():
        for (term, size), (_, fsize) in zip(terms, found.vectors[feat], strict=True):
            if size != fsize:
                raise DemoError(
                    src.path,
                    name,
                    "size differs from the first demo",
                    key=term.key,
                    expected=f"(T, {size})",
                    found=f"(T, {fsize})",
                )
    for (cam, shape), (_, fshape) in zip(schema.cameras, found.cameras, strict=True):
        if shape != fshape:
            raise DemoError(
                src.path,
                name,
                "image size differs from the first demo",
                key=cam.key,
                expected=f"(T, {', '.join(map(str, shape))}) uint8",
                found=f"(T, {', '.join(map(str, fshape))}) uint8",
            )
    st, ft = schema.tactile, found.tactile
    if st is not None and ft is not None and (st.kinds != ft.kinds or st.grid_shape != ft.grid_shape):
        raise DemoError(
            src.path,
            name,
            "tactile layout differs from the first demo",
            key=schema.tactile.fingers[0].key,
            expected=f"{schema.tactile.kinds} grid {schema.tactile.grid_shape}",
            found=f"{found.tactile.kinds} grid {found.tactile.grid_shape}",
        )


# ------------------------------------------------------------------------------------------------------------
# Reading data


def _read(src: SourceFile, name: str, key: str, sel: slice | tuple = ()) -> np.ndarray:
    try:
        return src.data[name][key][sel]
    except (OSError, RuntimeError, ValueError) as exc:
        raise DemoError(src.path, name, f"unreadable data (corrupt or truncated file): {exc}", key=key) from exc


def _check_finite(src: SourceFile, name: str, key: str, values: np.ndarray) -> None:
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            frame = int(np.argwhere(bad)[0][0])
            raise DemoError(
                src.path,
                name,
                f"contains NaN or inf ({int(bad.sum())} values, first at frame {frame})",
                key=key,
                expected="finite values",
                found="NaN/inf",
            )


@dataclass
class DemoArrays:
    """The small per-demo arrays (everything but images), already converted to feature units."""

    vectors: dict[str, np.ndarray]  # feature -> (T, D) float32
    forces: np.ndarray | None  # (T, F, 3) float32
    grids: list[np.ndarray | None]  # per finger: (T, R, C, 3) recorded grid, or None (synthesised per block)


def load_numeric(src: SourceFile, name: str, schema: Schema) -> DemoArrays:
    """Read and check (finite) the non-image data of one demo; SO-101 joint terms go through the adapters."""
    vectors = {}
    for feat, terms in schema.vectors.items():
        parts = []
        for term, size in terms:
            raw = _read(src, name, term.key)
            _check_finite(src, name, term.key, raw)
            values = raw.astype(np.float64).reshape(raw.shape[0], size)
            if term.so101_joints:
                values = radians_to_units(values, schema.units)
            parts.append(values)
        vectors[feat] = np.concatenate(parts, axis=1).astype(np.float32)
    forces, grids = None, []
    if schema.tactile:
        per_finger = []
        for finger, kind in zip(schema.tactile.fingers, schema.tactile.kinds, strict=True):
            raw = _read(src, name, finger.key)
            _check_finite(src, name, finger.key, raw)
            if kind == "grid":
                grid = raw.astype(np.float32)
                grids.append(grid)
                per_finger.append(grid.sum(axis=(1, 2), dtype=np.float64))
            else:
                grids.append(None)
                per_finger.append(raw.astype(np.float64))
        forces = np.stack(per_finger, axis=1).astype(np.float32)
    return DemoArrays(vectors, forces, grids)


def tactile_grid_block(schema: TactileSchema, arrays: DemoArrays, b0: int, b1: int) -> np.ndarray:
    """(b1-b0, F, R, C, 3) float32: recorded grids as they are, forces through the synthetic taxel model."""
    out = []
    for i, grid in enumerate(arrays.grids):
        if grid is not None:
            out.append(grid[b0:b1])
        else:
            out.append(force_to_grid(arrays.forces[b0:b1, i], schema.grid_shape, schema.sigma))
    return np.stack(out, axis=1)


def read_images(src: SourceFile, name: str, key: str, b0: int, b1: int) -> np.ndarray:
    return _read(src, name, key, np.s_[b0:b1])


def _deflate_only(ds: h5py.Dataset) -> bool:
    """True when the dataset is chunked and gzip (deflate) is its only filter: chunks can be inflated by zlib."""
    if ds.chunks is None:
        return False
    plist = ds.id.get_create_plist()
    codes = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    return codes == [h5py.h5z.FILTER_DEFLATE]


class BlockReader:
    """Reads blocks of frames of gzip image datasets with the inflating done in a thread pool.

    h5py holds the GIL while it decompresses, which would stall lerobot's encoder threads (they need the GIL
    between frames). Here each chunk is fetched raw (``read_direct_chunk``) and inflated by ``zlib``, which
    releases the GIL, so reading runs on other cores in parallel with encoding. Datasets with other filters or
    none are read through h5py as usual.
    """

    def __init__(self, src: SourceFile, pool) -> None:
        self.src = src
        self.pool = pool

    def submit(self, name: str, key: str, b0: int, b1: int):
        """Start reading frames ``[b0, b1)`` of ``key``; returns a function that waits and returns the array."""
        ds = self.src.data[name][key]
        if not _deflate_only(ds):
            future = self.pool.submit(read_images, self.src, name, key, b0, b1)
            return future.result
        out = np.empty((b1 - b0, *ds.shape[1:]), dtype=ds.dtype)
        chunks, shape = ds.chunks, ds.shape
        ranges = [range(b0 // chunks[0] * chunks[0], b1, chunks[0])]
        ranges += [range(0, shape[d], chunks[d]) for d in range(1, ds.ndim)]
        futures = [self.pool.submit(self._inflate, ds, offset, out, b0, b1) for offset in itertools.product(*ranges)]

        def result() -> np.ndarray:
            try:
                for f in futures:
                    f.result()
            except (OSError, RuntimeError, ValueError, zlib.error) as exc:
                for f in futures:
                    f.cancel()
                raise DemoError(
                    self.src.path, name, f"unreadable data (corrupt or truncated file): {exc}", key=key
                ) from exc
            return out

        return result

    @staticmethod
    def _inflate(ds: h5py.Dataset, offset: tuple[int, ...], out: np.ndarray, b0: int, b1: int) -> None:
        mask, raw = ds.id.read_direct_chunk(offset)
        data = raw if mask & 1 else zlib.decompress(raw)  # bit 0 set: the deflate filter was skipped
        chunk = np.frombuffer(data, dtype=ds.dtype).reshape(ds.chunks)
        t0, t1 = max(b0, offset[0]), min(b1, offset[0] + ds.chunks[0])
        src_sel = [slice(t0 - offset[0], t1 - offset[0])]
        dst_sel = [slice(t0 - b0, t1 - b0)]
        for d in range(1, ds.ndim):
            n = min(ds.chunks[d], ds.shape[d] - offset[d])
            src_sel.append(slice(0, n))
            dst_sel.append(slice(offset[d], offset[d] + n))
        out[tuple(dst_sel)] = chunk[tuple(src_sel)]


def image_block_frames(
    schema: Schema, budget_bytes: int = 64 << 20, src: SourceFile | None = None, demo: str | None = None
) -> int:
    """Frames per read block so that one block of every camera fits in ``budget_bytes``.

    Rounded to a multiple of the image datasets' HDF5 chunk length when known, so no chunk is decompressed twice.
    """
    per_frame = sum(int(np.prod(shape)) for _, shape in schema.cameras) or 1
    frames = max(1, budget_bytes // per_frame)
    if src is not None and demo is not None and schema.cameras:
        chunks = src.data[demo][schema.cameras[0][0].key].chunks
        if chunks and chunks[0] > 1:
            frames = max(chunks[0], frames // chunks[0] * chunks[0])
    return int(min(frames, 4096))
