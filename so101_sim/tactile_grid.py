"""Taxel grids for fingertip tactile pads.

Two ways to turn forces into a ``(rows, cols, 3)`` grid of per-taxel force vectors, both of which conserve the
total force exactly (up to float rounding): the sum of a grid over its rows and columns equals the force that
produced it.

:func:`force_to_grid`
    The *synthetic taxel model* used by the HDF5 -> LeRobot converter when a demonstration only recorded one
    net contact force per finger (Isaac Lab's ``force_geometric_left/right``). The force is spread over the pad
    with a fixed, normalised 2-D Gaussian footprint centred on the pad. The footprint carries no information
    beyond the force itself (its shape never changes), so a policy sees the same signal as the raw force,
    presented in the layout of a real tactile sensor; real grids (simulated or measured) can then replace the
    synthetic ones without changing the policy's input shape.

:func:`splat_contacts`
    Bilinear splatting of point contacts given in pad coordinates, for simulators that know where on the pad
    each contact is (the MuJoCo backend). Each contact's force is shared between the four taxels around it with
    bilinear weights that sum to one.

Pad coordinates: ``uv`` in ``[0, 1]^2``; ``u`` runs along the columns, ``v`` along the rows. Taxel ``(r, c)``
has its centre at ``u = (c + 0.5) / cols``, ``v = (r + 0.5) / rows``. A contact outside the pad is not this
module's business: callers drop it (:mod:`so101_sim.mujoco.tactile` does); a point on the rim is clamped onto
the edge taxels.

:func:`splat_to_taxels`
    The same for an irregular taxel layout (:class:`TaxelLayout`, e.g. a real fingertip's vendor coordinates):
    each contact is shared between its nearest taxels, contacts farther than the layout's reach from every
    taxel (off the sensor) are dropped. :func:`quantize` applies a real sensor's encoding and
    :func:`feature_names` names every value as LeRobot's SO-101 tactile plugin does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_GRID_SHAPE: tuple[int, int] = (10, 12)
DEFAULT_SIGMA: float = 0.25


def _check_grid_shape(grid_shape: tuple[int, int]) -> tuple[int, int]:
    shape = tuple(int(s) for s in grid_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"grid_shape must be (rows, cols) with rows, cols >= 1, got {grid_shape!r}")
    return shape  # type: ignore[return-value]


@lru_cache(maxsize=32)
def _footprint(grid_shape: tuple[int, int], sigma: float, center: tuple[float, float]) -> np.ndarray:
    rows, cols = grid_shape
    v = (np.arange(rows) + 0.5) / rows
    u = (np.arange(cols) + 0.5) / cols
    d2 = (v[:, None] - center[1]) ** 2 + (u[None, :] - center[0]) ** 2
    w = np.exp(-0.5 * d2 / sigma**2)
    w /= w.sum()
    w.setflags(write=False)
    return w


def footprint(
    grid_shape: tuple[int, int] = DEFAULT_GRID_SHAPE,
    sigma: float = DEFAULT_SIGMA,
    center: tuple[float, float] = (0.5, 0.5),
) -> np.ndarray:
    """The normalised Gaussian footprint ``(rows, cols)`` (float64, sums to 1) used by :func:`force_to_grid`.

    ``sigma`` is the standard deviation in pad units (the pad is ``[0, 1]`` along each side), so the default
    0.25 puts ~95 % of the force within the middle of the pad, as a fingertip pressed flat does.
    """
    shape = _check_grid_shape(grid_shape)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return _footprint(shape, float(sigma), (float(center[0]), float(center[1])))


def force_to_grid(
    force: np.ndarray,
    grid_shape: tuple[int, int] = DEFAULT_GRID_SHAPE,
    sigma: float = DEFAULT_SIGMA,
    center: tuple[float, float] = (0.5, 0.5),
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Spread net finger forces ``(..., 3)`` over a taxel grid: returns ``(..., rows, cols, 3)``.

    Every grid sums (over rows and cols) back to its input force, to float rounding of ``dtype``.
    """
    f = np.asarray(force)
    if f.ndim < 1 or f.shape[-1] != 3:
        raise ValueError(f"force must have shape (..., 3), got {f.shape}")
    w = footprint(grid_shape, sigma, center)
    grid = f[..., None, None, :].astype(np.float64) * w[:, :, None]
    return grid.astype(dtype, copy=False)


def grid_to_force(grid: np.ndarray) -> np.ndarray:
    """Net force ``(..., 3)`` of taxel grids ``(..., rows, cols, 3)`` (the inverse direction of the models)."""
    g = np.asarray(grid)
    if g.ndim < 3 or g.shape[-1] != 3:
        raise ValueError(f"grid must have shape (..., rows, cols, 3), got {g.shape}")
    return g.sum(axis=(-3, -2), dtype=np.float64)


def _axis_weights(coord: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower taxel index, upper taxel index and upper weight along one axis of ``n`` taxels."""
    if n == 1:
        zeros = np.zeros(coord.shape, dtype=np.intp)
        return zeros, zeros, np.zeros(coord.shape)
    x = np.clip(coord * n - 0.5, 0.0, n - 1.0)  # continuous taxel index; edges clamp onto the edge taxels
    lo = np.minimum(np.floor(x).astype(np.intp), n - 2)
    return lo, lo + 1, x - lo


def splat_contacts(
    uv: np.ndarray,
    forces: np.ndarray,
    grid_shape: tuple[int, int] = DEFAULT_GRID_SHAPE,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Bilinearly splat ``K`` point contacts onto a ``(rows, cols, 3)`` taxel grid.

    ``uv`` (K, 2) holds pad coordinates in ``[0, 1]^2`` (values just outside, from rounding, clamp onto the
    edge taxels; callers drop contacts that are off the pad); ``forces`` (K, 3) the contact force vectors. The
    grid sums exactly (to float rounding) to ``forces.sum(0)``. ``K = 0`` gives a zero grid.
    """
    rows, cols = _check_grid_shape(grid_shape)
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2) if np.size(uv) else np.zeros((0, 2))
    f = np.asarray(forces, dtype=np.float64).reshape(-1, 3) if np.size(forces) else np.zeros((0, 3))
    if uv.shape[0] != f.shape[0]:
        raise ValueError(f"uv {uv.shape} and forces {f.shape} must have the same number of contacts")
    if not (np.all(np.isfinite(uv)) and np.all(np.isfinite(f))):
        raise ValueError("uv and forces must be finite")
    r0, r1, wr = _axis_weights(uv[:, 1], rows)
    c0, c1, wc = _axis_weights(uv[:, 0], cols)
    idx = np.concatenate([r0 * cols + c0, r0 * cols + c1, r1 * cols + c0, r1 * cols + c1])
    w = np.concatenate([(1 - wr) * (1 - wc), (1 - wr) * wc, wr * (1 - wc), wr * wc])
    out = np.empty((rows * cols, 3), dtype=np.float64)
    for axis in range(3):
        out[:, axis] = np.bincount(idx, weights=w * np.tile(f[:, axis], 4), minlength=rows * cols)
    return out.reshape(rows, cols, 3).astype(dtype, copy=False)


# ---------------------------------------------------------------------------------------------- taxel layouts
AXES = ("fx", "fy", "fz")


@dataclass(frozen=True)
class Quantization:
    """A sensor's encoding: ``step`` newtons per count, shear (x, y) and normal (z) ranges in newtons."""

    step: float
    shear_range: tuple[float, float]
    normal_range: tuple[float, float]


# Paxini GEN3 (paxini-sdk 0.1.0, paxini_sdk/boards/high_speed.py): per taxel Fx, Fy signed int8, Fz uint8
# (compression only), 0.1 N per count.
PAXINI_GEN3 = Quantization(step=0.1, shear_range=(-12.8, 12.7), normal_range=(0.0, 25.5))

# Named layouts: vendor part codes resolved through the paxini-sdk package, which ships the vendor's taxel
# coordinates (MIT; paxini_sdk.sensor_registry.load_points). The coordinates are not copied here.
PAXINI_LAYOUTS = {
    "paxini_dp_s2015": "PXSR-STDDP03G",  # PX6AX-GEN3-DP-S2015-Elite, 15 mm fingertip, 52 taxels
    "paxini_dp_s1813": "PXSR-STDDP03D",  # PX6AX-GEN3-DP-S1813-Core, 13 mm fingertip, 51 taxels
    "paxini_dp_s2716": "PXSR-STDDP03C",  # PX6AX-GEN3-DP-S2716-Core, 16 mm fingertip, 116 taxels
}


@dataclass(frozen=True)
class TaxelLayout:
    """An irregular taxel layout: ``points_mm`` (P, 3) in the sensor frame (x across the finger, y along it
    towards the tip, z height), where it came from, and the sensor's encoding (``None``: float forces)."""

    name: str
    points_mm: np.ndarray
    source: str
    quantization: Quantization | None = None

    @property
    def n_points(self) -> int:
        return len(self.points_mm)

    @property
    def reach_mm(self) -> float:
        """The widest gap: the largest distance (x-y plane) from a taxel to its nearest neighbour. A contact
        farther than this from every taxel is off the sensor (15 mm Paxini tip: 3.2 mm)."""
        xy = self.points_mm[:, :2]
        d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        return float(d.min(axis=1).max()) if len(xy) > 1 else 1.0


def _points_from_json(path: Path) -> np.ndarray:
    """``{"points": [{"x_mm", "y_mm", "z_mm"}, ...]}`` (paxini-sdk's asset schema) or ``[[x, y, z], ...]``."""
    try:
        blob = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read a taxel layout ({exc})") from exc
    try:
        if isinstance(blob, dict):
            rows = [(p["x_mm"], p["y_mm"], p.get("z_mm", 0.0)) for p in blob["points"]]
        else:
            rows = [tuple(p) for p in blob]
        pts = np.asarray(rows, dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: key 'points' must be a list of {{x_mm, y_mm, z_mm}} (or the file a list of "
                         f"[x, y, z] in mm) ({exc})") from exc
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) < 1:
        raise ValueError(f"{path}: expected taxel points of shape (P, 3) in mm, got {pts.shape}")
    return pts


def load_taxel_layout(spec: str | os.PathLike) -> TaxelLayout:
    """A layout by name (``paxini_dp_s2015``, a key of :data:`PAXINI_LAYOUTS`, or ``paxini:<PART-CODE>``) or
    from a JSON file (paxini-sdk's per-sensor schema or a list of ``[x, y, z]`` in mm)."""
    text = str(spec)
    code = PAXINI_LAYOUTS.get(text) or (text.split(":", 1)[1] if text.startswith("paxini:") else None)
    if code is not None:
        try:
            from paxini_sdk.sensor_registry import load_points
        except ImportError as exc:
            raise ImportError(f"tactile layout {text!r} reads the vendor's taxel coordinates from the paxini-sdk "
                              "package: pip install paxini-sdk") from exc
        try:
            pts = np.asarray(load_points(code), dtype=np.float64)
        except KeyError as exc:
            raise ValueError(f"paxini-sdk has no sensor {code!r}; named layouts: {sorted(PAXINI_LAYOUTS)}") from exc
        return TaxelLayout(text, pts, f"paxini-sdk sensor_registry.load_points({code!r})", PAXINI_GEN3)
    path = Path(text)
    if path.suffix.lower() != ".json" or not path.is_file():
        raise ValueError(f"unknown tactile layout {text!r}: use 'grid', one of {sorted(PAXINI_LAYOUTS)}, "
                         "'paxini:<part code>' or an existing .json file of taxel points in mm")
    return TaxelLayout(path.stem, _points_from_json(path), str(path))


def splat_to_taxels(xy_mm: np.ndarray, forces: np.ndarray, points_mm: np.ndarray, reach_mm: float,
                    k: int = 3) -> np.ndarray:
    """Share ``K`` point contacts (``xy_mm`` (K, 2) in the sensor plane) between their ``k`` nearest taxels.

    Weights are inverse distances (a contact on a taxel goes to it alone) and sum to one, so the result
    ``(P, 3)`` sums to the forces of the contacts kept. A contact farther than ``reach_mm`` from every taxel is
    off the sensor and dropped.
    """
    xy = np.asarray(xy_mm, dtype=np.float64).reshape(-1, 2)
    f = np.asarray(forces, dtype=np.float64).reshape(-1, 3)
    taxels = np.asarray(points_mm, dtype=np.float64)[:, :2]
    out = np.zeros((len(taxels), 3))
    if xy.shape[0] != f.shape[0]:
        raise ValueError(f"xy_mm {xy.shape} and forces {f.shape} must have the same number of contacts")
    if not len(xy):
        return out
    d = np.sqrt(((xy[:, None, :] - taxels[None]) ** 2).sum(-1))  # (K, P)
    on_sensor = d.min(axis=1) <= reach_mm
    d, f = d[on_sensor], f[on_sensor]
    k = min(k, len(taxels))
    nearest = np.argsort(d, axis=1)[:, :k]
    dn = np.take_along_axis(d, nearest, axis=1)
    w = 1.0 / np.maximum(dn, 1e-6)
    w /= w.sum(axis=1, keepdims=True)
    np.add.at(out, nearest.ravel(), (w[:, :, None] * f[:, None, :]).reshape(-1, 3))
    return out


def quantize(forces: np.ndarray, q: Quantization) -> np.ndarray:
    """A real sensor's reading of float forces ``(..., 3)``: counts of ``q.step`` newtons, shear clipped to
    its range, the normal component compression-only (negative values read 0)."""
    f = np.asarray(forces, dtype=np.float64)
    counts = np.round(f / q.step)
    lo = np.array([q.shear_range[0], q.shear_range[0], q.normal_range[0]]) / q.step
    hi = np.array([q.shear_range[1], q.shear_range[1], q.normal_range[1]]) / q.step
    return (np.clip(counts, np.round(lo), np.round(hi)) * q.step).astype(np.float32)


def feature_names(sensor: str, n_fingers: int, n_points: int) -> list[str]:
    """Names of the values of a ``(n_fingers, n_points, 3)`` reading in C order.

    ``<sensor>.f<k>.p<ii>.<fx|fy|fz>``: the names LeRobot's SO-101 Paxini robot plugin
    (``lerobot-robot-so101-paxini``, output format "combined") gives them in ``observation.state``, so
    simulated and real tactile datasets share features.
    """
    return [f"{sensor}.f{k}.p{i:02d}.{a}" for k in range(n_fingers) for i in range(n_points) for a in AXES]
