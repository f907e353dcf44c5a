"""Simulated tactile pads on the SO-101 jaws: the contact forces on each jaw's pad, as taxel readings.

Each jaw carries a pad site (added by :mod:`so101_sim.mujoco.scene`): ``pad_fixed`` on the fixed jaw,
``pad_moving`` on the moving jaw. The sensor frame of a pad has x along the jaw from its base to the tip and z
the outward normal (into the jaw, away from the other jaw), y = z cross x: squeezing an object reads positive z.

What a pad measures: the force exerted on the jaw by every contact *on the pad's surface*, i.e. a contact
between the jaw's collision geometry and anything but the other jaw whose point lies

- inside the pad rectangle (``PAD_LENGTH`` along the jaw, ``PAD_WIDTH`` across, centred on the site),
- within ``PAD_DEPTH`` of the pad plane (Menagerie's inner jaw face is a few steps of thin boxes, not a plane),
- and whose contact normal is within 45 degrees of the pad normal (not the jaw's sides or end).

Every other contact of the jaw (the wrist servo box, the back of the fixed jaw, the jaw's sides) is dropped, not
clamped onto the pad. Forces are newtons in the sensor frame (x, y shear, z pressure). Two layouts:

``grid`` (default)
    splatted bilinearly (:func:`so101_sim.tactile_grid.splat_contacts`) onto a ``(rows, cols)`` grid: columns
    run base -> tip, rows across the jaw. Each pad's grid sums exactly to the force of the contacts on the pad.
    Output ``(2, rows, cols, 3)`` float32, the layout of the converter's ``observation.tactile.force_grid``.
a taxel layout (:class:`so101_sim.tactile_grid.TaxelLayout`, e.g. ``paxini_dp_s2015``)
    a real fingertip's taxel coordinates (sensor x across the jaw, y along it towards the tip) mounted on the
    pad with its tip end at the jaw's tip and centred across it. Each contact is shared between its nearest
    taxels; contacts on the pad but off the fingertip are dropped. Per taxel (Fx, Fy, Fz) = (pad y, pad x,
    pad z) force, in the sensor's encoding when it has one (Paxini GEN3: 0.1 N counts, Fz compression only).
    Output ``(2, P, 3)`` float32, fingers in the order (fixed, moving), the "combined" format of LeRobot's
    Paxini SO-101 plugin; :meth:`TactilePads.feature_names` names the values as that plugin does.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np

from so101_sim.tactile_grid import (
    TaxelLayout,
    feature_names,
    load_taxel_layout,
    quantize,
    splat_contacts,
    splat_to_taxels,
)

PAD_SITES = ("pad_fixed", "pad_moving")
PAD_BODIES = ("gripper", "moving_jaw_so101_v1")
PAD_LENGTH = 0.052  # m, along the jaw (x): from the jaw's tip back to its fixed-jaw stepped face
PAD_WIDTH = 0.02  # m, across the jaw (y)
PAD_DEPTH = 0.006  # m, contact points this far from the pad plane (either side) are on its surface
PAD_NORMAL_COS = np.cos(np.deg2rad(45.0))  # contact normals must be within 45 degrees of the pad normal
SENSOR_FROM_SITE = np.array([1.0, -1.0, -1.0])  # 180 degrees about x: columns of the site matrix scaled


class TactilePads:
    """Both jaws' pads. ``layout`` is ``"grid"`` (a ``grid`` of taxels) or a taxel layout name / JSON path
    (see :func:`so101_sim.tactile_grid.load_taxel_layout`)."""

    def __init__(self, model: mujoco.MjModel, grid: tuple[int, int] = (10, 12),
                 layout: str | os.PathLike | TaxelLayout = "grid") -> None:
        self.model = model
        self.grid = (int(grid[0]), int(grid[1]))
        if isinstance(layout, TaxelLayout):
            self.layout: TaxelLayout | None = layout
        else:
            self.layout = None if str(layout) == "grid" else load_taxel_layout(layout)
        if self.layout is not None:
            pts = self.layout.points_mm
            # Mount: the layout's tip end at the pad's tip edge, centred across the pad (pad mm coordinates).
            self._taxels_mm = np.column_stack([
                pts[:, 1] - pts[:, 1].max() + 500.0 * PAD_LENGTH,  # layout y (along) -> pad x
                pts[:, 0] - 0.5 * (pts[:, 0].min() + pts[:, 0].max()),  # layout x (across) -> pad y
            ])
            self._reach_mm = self.layout.reach_mm
        self.sites = [model.site(name).id for name in PAD_SITES]
        bodies = [model.body(name).id for name in PAD_BODIES]
        self._geom_pad = np.full(model.ngeom, -1, dtype=np.int64)
        collides = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
        for pad, body in enumerate(bodies):
            self._geom_pad[(model.geom_bodyid == body) & collides] = pad
        self._force6 = np.zeros(6)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of :meth:`read`: ``(2, rows, cols, 3)`` for the grid, ``(2, P, 3)`` for a taxel layout."""
        return (2, *self.grid, 3) if self.layout is None else (2, self.layout.n_points, 3)

    def feature_names(self, sensor: str = "tactile") -> list[str]:
        """One name per value of :meth:`read` in C order: ``<sensor>.f<k>.p<ii>.<fx|fy|fz>`` (grid taxels are
        numbered row by row)."""
        return feature_names(sensor, 2, int(np.prod(self.shape[1:-1])))

    def reset(self) -> None:
        """Stateless: kept for symmetry with other observation sources."""

    def pad_contacts(self, data: mujoco.MjData) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per pad, the contacts on its surface: points ``(K, 2)`` in pad coordinates (metres; x along the jaw,
        y across, from the pad centre) and forces on the jaw ``(K, 3)`` in the sensor frame."""
        empty = (np.zeros((0, 2)), np.zeros((0, 3)))
        if data.ncon == 0:
            return [empty, empty]
        contacts = data.contact  # struct of arrays over the ncon active contacts
        p1, p2 = self._geom_pad[contacts.geom1], self._geom_pad[contacts.geom2]
        pad_of = np.where(p1 >= 0, p1, p2)
        one_jaw = (p1 >= 0) != (p2 >= 0)  # not: no jaw involved, or the two jaws touching each other
        frames = contacts.frame.reshape(-1, 3, 3)  # rows: normal (geom1 -> geom2), tangents
        out = []
        for pad, site in enumerate(self.sites):
            rot = data.site_xmat[site].reshape(3, 3) * SENSOR_FROM_SITE  # site z is inward; the sensor's outward
            idx = np.flatnonzero(one_jaw & (pad_of == pad))
            local = (contacts.pos[idx] - data.site_xpos[site]) @ rot  # rot.T @ (p - origin), row by row
            on_pad = ((np.abs(local[:, 0]) <= 0.5 * PAD_LENGTH) & (np.abs(local[:, 1]) <= 0.5 * PAD_WIDTH)
                      & (np.abs(local[:, 2]) <= PAD_DEPTH) & (np.abs(frames[idx, 0] @ rot[:, 2]) >= PAD_NORMAL_COS))
            idx, local = idx[on_pad], local[on_pad]
            if not len(idx):
                out.append(empty)
                continue
            in_frame = np.empty((len(idx), 3))
            for row, i in enumerate(idx):
                mujoco.mj_contactForce(self.model, data, int(i), self._force6)
                in_frame[row] = self._force6[:3]
            on_geom2 = np.einsum("kji,kj->ki", frames[idx], in_frame)  # frame.T @ f: world frame, on geom2
            on_jaw = np.where(p1[idx] >= 0, -1.0, 1.0)[:, None] * on_geom2
            out.append((local[:, :2], on_jaw @ rot))
        return out

    def read(self, data: mujoco.MjData) -> np.ndarray:
        """Taxel forces (N) of both pads, shape :attr:`shape`, float32."""
        out = np.zeros(self.shape, dtype=np.float32)
        for pad, (xy, force) in enumerate(self.pad_contacts(data)):
            if not len(force):
                continue
            if self.layout is None:
                uv = np.column_stack([xy[:, 0] / PAD_LENGTH + 0.5, xy[:, 1] / PAD_WIDTH + 0.5])
                out[pad] = splat_contacts(uv, force, self.grid)
            else:
                # Sensor axes: Fx across (pad y), Fy along (pad x), Fz pressure (pad z).
                taxels = splat_to_taxels(1000.0 * xy, force[:, [1, 0, 2]], self._taxels_mm, self._reach_mm)
                q = self.layout.quantization
                out[pad] = quantize(taxels, q) if q is not None else taxels
        return out
