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

Pad coordinates: ``uv`` in ``[0, 1]^2``; ``u`` runs along the columns (pad width), ``v`` along the rows (pad
length). Taxel ``(r, c)`` has its centre at ``u = (c + 0.5) / cols``, ``v = (r + 0.5) / rows``.
"""

from __future__ import annotations

from functools import lru_cache

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

    ``uv`` (K, 2) holds pad coordinates in ``[0, 1]^2`` (values outside are clamped to the pad edge, so a contact
    on the rim still counts in full); ``forces`` (K, 3) the contact force vectors. The grid sums exactly (to
    float rounding) to ``forces.sum(0)``. ``K = 0`` gives a zero grid.
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
