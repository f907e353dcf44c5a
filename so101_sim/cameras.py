"""Camera names, kept once for every backend and face.

``CAMERAS`` are the scene's cameras (MJCF names; Menagerie's ``wrist_cam`` is renamed ``camera2`` by
:mod:`so101_sim.mujoco.scene`): SmolVLA's base checkpoint expects ``camera1..3``, so they are also the
``observation.images.<name>`` keys. ``RECORDED_CAMERA_NAMES`` are the observation names the Isaac Lab style
HDF5 recordings use for them (``obs/front``, ``obs/wrist``), as the shipped ``so101`` converter mapping reads.
"""

from __future__ import annotations

CAMERAS: tuple[str, ...] = ("camera1", "camera2", "camera3")  # top-down, wrist, side
RECORDED_CAMERA_NAMES: dict[str, str] = {"camera1": "front", "camera2": "wrist"}
