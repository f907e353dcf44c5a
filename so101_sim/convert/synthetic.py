"""Deterministic synthetic demos in Isaac Lab's HDF5 layout, for tests and benchmarks.

The frames are smooth moving gradients with a moving square (they compress like rendered images, unlike
noise), the numbers are smooth functions of time, so a converted dataset can be checked value by value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from so101_sim.isaaclab_hdf5 import IsaacLabHDF5Writer

FRANKA_JOINTS = 9


def frame(t: int, h: int, w: int, phase: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack(
        [
            (xx * 255 // max(w - 1, 1) + 3 * t + phase) % 256,
            (yy * 255 // max(h - 1, 1) + 2 * t) % 256,
            ((xx + yy) // 2 + t + 7 * phase) % 256,
        ],
        axis=-1,
    ).astype(np.uint8)
    s = max(2, min(h, w) // 5)
    r0, c0 = (t * 2 + phase) % max(1, h - s), (t * 3 + phase) % max(1, w - s)
    img[r0 : r0 + s, c0 : c0 + s] = (255 - 40 * phase) % 256
    return img


def franka_step(demo: int, t: int, image_hw: tuple[int, int]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One step of the tactile Franka layout (9 joints, 7-d action, 2 cameras, 2 finger forces)."""
    h, w = image_hw
    x = 0.01 * t + 0.1 * demo
    j = np.arange(FRANKA_JOINTS)
    obs = {
        "joint_pos": np.sin(x + 0.3 * j).astype(np.float32),
        "joint_vel": np.cos(x + 0.3 * j).astype(np.float32),
        "gripper_pos": np.array([0.04 * np.cos(x), 0.04 * np.cos(x)], dtype=np.float32),
        "ee_pos": np.array([0.4 + 0.1 * np.sin(x), 0.1 * np.cos(x), 0.2 + 0.01 * t], dtype=np.float32),
        "ee_quat": np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32),
        "force_geometric_left": np.array([0.1 * t, -0.5, 2.0 + np.sin(x)], dtype=np.float32),
        "force_geometric_right": np.array([-0.1 * t, 0.5, 2.0 + np.cos(x)], dtype=np.float32),
        "rgb_table": frame(t, h, w, phase=demo % 5),
        "rgb_wrist": frame(t, h, w, phase=(demo + 2) % 5),
    }
    action = np.concatenate([np.sin(x + 0.3 * j[:7]) * 0.5]).astype(np.float32)
    return obs, action


def so101_step(
    demo: int, t: int, image_hw: tuple[int, int], tactile: bool = True, grid_shape: tuple[int, int] = (10, 12)
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One step of the SO-101 layout (6 joints in radians, front/wrist cameras, optional tactile grids)."""
    h, w = image_hw
    x = 0.02 * t + 0.1 * demo
    q = (0.5 * np.sin(x + 0.4 * np.arange(6))).astype(np.float32)
    q[5] = 0.6 + 0.5 * np.sin(x)  # gripper, inside its range
    obs = {"joint_pos": q, "front": frame(t, h, w, demo % 5), "wrist": frame(t, h, w, (demo + 1) % 5)}
    if tactile:
        rows, cols = grid_shape
        g = np.zeros((rows, cols, 3), dtype=np.float32)
        g[rows // 2, cols // 2] = [0.0, 0.0, 1.0 + 0.1 * t]
        obs["tactile_left"] = g
        obs["tactile_right"] = g * 0.5
    return obs, (q + 0.05).astype(np.float32)


def write_demos(
    path: str | Path,
    lengths: Sequence[int],
    *,
    layout: str = "franka",
    image_hw: tuple[int, int] = (24, 32),
    successes: Sequence[bool | None] | None = None,
    env_name: str = "Isaac-Lift-Cube-Franka-Tactile-v0",
    env_args: dict | None = None,
    step_fn: Callable[[int, int], tuple[dict[str, np.ndarray], np.ndarray]] | None = None,
    overwrite: bool = True,
    compression: str | None = "gzip",
) -> Path:
    """Write ``len(lengths)`` demos (demo ``i`` has ``lengths[i]`` steps) and return the path."""
    if step_fn is None:
        if layout == "franka":

            def step_fn(d, t):
                return franka_step(d, t, image_hw)
        elif layout == "so101":

            def step_fn(d, t):
                return so101_step(d, t, image_hw)
        else:
            raise ValueError(f"unknown layout {layout!r}")
    with IsaacLabHDF5Writer(
        path, env_name=env_name, env_args=env_args, overwrite=overwrite, compression=compression
    ) as writer:
        for d, n in enumerate(lengths):
            writer.begin_demo(seed=d)
            for t in range(n):
                obs, action = step_fn(d, t)
                writer.add_step(obs, action)
            writer.end_demo(success=None if successes is None else successes[d])
    return Path(path)
