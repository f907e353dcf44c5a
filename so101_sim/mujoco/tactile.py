"""Simulated tactile pads on the SO-101 jaws: contact forces splatted onto taxel grids.

Each jaw carries a pad site (added by :mod:`so101_sim.mujoco.scene`): ``pad_fixed`` on the fixed jaw,
``pad_moving`` on the moving jaw. The sensor frame of a pad has x along the jaw from its base to the tip and z
the outward normal (into the jaw, away from the other jaw), y = z cross x: squeezing an object reads positive z.
Every contact between a jaw's collision geometry and anything but the other jaw contributes the force that it
exerts on the jaw, in the sensor frame (newtons: x, y shear, z pressure), at the contact point projected onto
the pad rectangle (clamped to its edge). Contacts are
splatted bilinearly (:func:`so101_sim.tactile_grid.splat_contacts`) onto a ``(rows, cols)`` grid: columns
run base -> tip, rows across the jaw. Each pad's grid therefore sums exactly to the total contact force on
that jaw. Output: ``(2, rows, cols, 3)`` float32, fingertips in the order (fixed/left, moving/right), the
layout of the converter's ``observation.tactile.force_grid``.
"""

from __future__ import annotations

import mujoco
import numpy as np

from so101_sim.tactile_grid import splat_contacts

PAD_SITES = ("pad_fixed", "pad_moving")
PAD_BODIES = ("gripper", "moving_jaw_so101_v1")
PAD_LENGTH = 0.05  # m, along the jaw (x)
PAD_WIDTH = 0.02  # m, across the jaw (y)
SENSOR_FROM_SITE = np.array([1.0, -1.0, -1.0])  # 180 degrees about x: columns of the site matrix scaled


class TactilePads:
    def __init__(self, model: mujoco.MjModel, grid: tuple[int, int] = (10, 12)) -> None:
        self.model = model
        self.grid = (int(grid[0]), int(grid[1]))
        self.sites = [model.site(name).id for name in PAD_SITES]
        bodies = [model.body(name).id for name in PAD_BODIES]
        self._geom_pad = np.full(model.ngeom, -1, dtype=np.int64)
        for pad, body in enumerate(bodies):
            collides = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
            self._geom_pad[(model.geom_bodyid == body) & collides] = pad
        self._force6 = np.zeros(6)

    def reset(self) -> None:
        """Stateless: kept for symmetry with other observation sources."""

    def pad_contacts(self, data: mujoco.MjData) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per pad: contact points ``(K, 2)`` in pad uv coordinates and forces ``(K, 3)`` in the pad frame."""
        uvs: list[list[np.ndarray]] = [[], []]
        forces: list[list[np.ndarray]] = [[], []]
        pad_rot = [data.site_xmat[s].reshape(3, 3) for s in self.sites]
        pad_pos = [data.site_xpos[s] for s in self.sites]
        for i in range(data.ncon):
            c = data.contact[i]
            p1, p2 = self._geom_pad[c.geom1], self._geom_pad[c.geom2]
            if (p1 >= 0) == (p2 >= 0):
                continue  # no jaw involved, or the two jaws touching each other
            mujoco.mj_contactForce(self.model, data, i, self._force6)
            frame = c.frame.reshape(3, 3)  # rows: normal (geom1 -> geom2), tangents
            f_on_geom2 = frame.T @ self._force6[:3]
            pad, f_world = (p1, -f_on_geom2) if p1 >= 0 else (p2, f_on_geom2)
            rot = pad_rot[pad] * SENSOR_FROM_SITE  # site frame has z inward; the sensor frame z outward
            local_pos = rot.T @ (c.pos - pad_pos[pad])
            uvs[pad].append(np.array([local_pos[0] / PAD_LENGTH + 0.5, local_pos[1] / PAD_WIDTH + 0.5]))
            forces[pad].append(rot.T @ f_world)
        return [
            (np.array(uvs[p]).reshape(-1, 2), np.array(forces[p]).reshape(-1, 3)) for p in range(2)
        ]

    def read(self, data: mujoco.MjData) -> np.ndarray:
        """``(2, rows, cols, 3)`` taxel forces (N) of both pads."""
        out = np.zeros((2, *self.grid, 3), dtype=np.float32)
        for pad, (uv, force) in enumerate(self.pad_contacts(data)):
            if len(force):
                out[pad] = splat_contacts(uv, force, self.grid)
        return out
