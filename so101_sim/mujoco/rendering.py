"""Headless rendering: GL backend choice, render presets and the camera renderer.

Backend: when ``MUJOCO_GL`` is unset and there is no display, :func:`select_gl_backend` picks EGL, then
OSMesa (whichever library loads), and must run before ``mujoco`` is imported (``so101_sim/__init__.py`` calls
it). :func:`gl_info` reports the OpenGL renderer actually obtained, and a warning is logged once when it is a
software renderer (llvmpipe, softpipe, swrast): rendering then costs far more per pixel.

Presets trade looks for speed (:data:`RENDER_PRESETS`, the one table of them); collision geometry, masses and
physics are identical in all of them:

``fast`` (default)
    visual meshes decimated to 3% of their faces (:mod:`so101_sim.mujoco.mesh_lod`, cached on disk), no
    shadows, no multisampling, no reflections. ~100x the env steps/s of ``full`` with 3 cameras in software.
``pretty``
    visual meshes at 15%, shadows (2048 map), 4x multisampling, reflections: for videos and GPUs.
``full``
    Menagerie's meshes and MuJoCo's default options (4096 shadow map from the scene file), the naive
    baseline of ``benchmarks/bench_render.py``.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from so101_sim.mujoco import mesh_lod

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderPreset:
    """What a render preset changes. ``None`` leaves the scene file's / MuJoCo's value."""

    face_ratio: float | None  # visual meshes keep this fraction of their faces (mesh_lod); None: originals
    shadowsize: int | None  # shadow map size; 0 disables shadows
    offsamples: int | None  # multisampling of the offscreen buffer; 0 disables it
    shadows: bool = True  # lights cast shadows
    reflections: bool = True  # materials keep their reflectance


RENDER_PRESETS: dict[str, RenderPreset] = {
    "fast": RenderPreset(face_ratio=0.03, shadowsize=0, offsamples=0, shadows=False, reflections=False),
    "pretty": RenderPreset(face_ratio=0.15, shadowsize=2048, offsamples=4),
    "full": RenderPreset(face_ratio=None, shadowsize=None, offsamples=None),
}
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software")


def camera_sizes(
    cameras, image_size=256, overrides: dict[str, tuple[int, int]] | None = None
) -> dict[str, tuple[int, int]]:
    """``{camera: (height, width)}`` from one size for all (int or ``(h, w)``) or a per-camera dict (missing
    cameras 256x256), then ``overrides`` per camera. Every option of every face is resolved here."""
    cameras = tuple(cameras or ())
    if isinstance(image_size, dict):
        sizes = {c: tuple(image_size.get(c, (256, 256))) for c in cameras}
    elif isinstance(image_size, int):
        sizes = {c: (image_size, image_size) for c in cameras}
    else:
        sizes = {c: tuple(image_size) for c in cameras}
    sizes.update({c: tuple(v) for c, v in (overrides or {}).items() if c in sizes})
    for cam, size in sizes.items():
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"image size of {cam!r} must be (height, width), got {size}")
    return {c: (int(h), int(w)) for c, (h, w) in sizes.items()}


def select_gl_backend() -> str | None:
    """Set ``MUJOCO_GL`` for headless use if the user has not. Returns the backend chosen (or already set)."""
    current = os.environ.get("MUJOCO_GL")
    if current:
        return current
    if sys.platform != "linux" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None  # let MuJoCo use GLFW with the display (and the native backend on macOS/Windows)
    for backend, lib in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if ctypes.util.find_library(lib):
            os.environ["MUJOCO_GL"] = backend
            if backend == "osmesa":
                os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
            else:
                os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
            return backend
    logger.warning(
        "no display and neither libEGL nor libOSMesa found: camera rendering will fail. "
        "On Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri (or libosmesa6)."
    )
    return None


_GL_INFO: dict[str, str] | None = None


def gl_info() -> dict[str, str]:
    """The GL backend and renderer strings of the current context (call with a renderer alive)."""
    global _GL_INFO
    if _GL_INFO is None:
        info = {"backend": os.environ.get("MUJOCO_GL", "glfw"), "vendor": "?", "renderer": "?", "version": "?"}
        try:
            from OpenGL import GL

            for key, enum in (("vendor", GL.GL_VENDOR), ("renderer", GL.GL_RENDERER), ("version", GL.GL_VERSION)):
                value = GL.glGetString(enum)
                info[key] = value.decode() if isinstance(value, bytes) else str(value)
        except Exception as exc:  # noqa: BLE001 - reporting only
            info["renderer"] = f"unknown ({type(exc).__name__})"
        info["software"] = str(any(s in info["renderer"].lower() for s in SOFTWARE_RENDERERS))
        _GL_INFO = info
        if info["software"] == "True":
            logger.warning(
                "MuJoCo is rendering with a software OpenGL renderer (%s via %s): expect tens of frames/s, "
                "not thousands. Use the 'fast' preset and small images, or a GPU with EGL.",
                info["renderer"],
                info["backend"],
            )
    return _GL_INFO


def render_preset(name: str) -> RenderPreset:
    """The preset called ``name``; a clear error naming the choices otherwise."""
    if name not in RENDER_PRESETS:
        raise ValueError(f"render_preset must be one of {tuple(RENDER_PRESETS)}, got {name!r}")
    return RENDER_PRESETS[name]


def apply_render_preset(spec, preset: str, asset_dir: str | Path) -> list[mesh_lod.LodMesh]:
    """Set the visual options and the render geometry (visual-only meshes) of an MjSpec for a preset.

    ``asset_dir``: the directory the spec's relative mesh files are in. Returns the swapped meshes.
    """
    p = render_preset(preset)
    if p.shadowsize is not None:
        spec.visual.quality.shadowsize = p.shadowsize
    if p.offsamples is not None:
        spec.visual.quality.offsamples = p.offsamples
    if not p.shadows:
        for light in spec.lights:
            light.castshadow = False
    if not p.reflections:
        for material in spec.materials:
            material.reflectance = 0.0
    return mesh_lod.use_render_meshes(spec, p.face_ratio, asset_dir)


class CameraRenderer:
    """Renders the scene's named cameras through one GL context, one ``MjrContext`` and one ``MjvScene``.

    Why not one ``mujoco.Renderer`` per camera: every Renderer owns a GL context and a copy of all meshes on
    the GPU, and switching contexts per frame is slow. Here all cameras share one context and one offscreen
    buffer; :meth:`render_all` draws every camera into its own tile of that buffer (the scene's geoms are
    updated once, then only the camera per tile) and reads all tiles back with a single ``glReadPixels``:
    on a GPU the read-back is a pipeline stall, so one per step instead of one per camera matters.
    Output arrays are fresh per call (observations may be kept by the caller); the read-back buffer is reused.
    """

    MAX_ATLAS_WIDTH = 4096  # tiles side by side up to this width; wider layouts render camera by camera

    def __init__(self, model, sizes: dict[str, tuple[int, int]], max_geom: int | None = None) -> None:
        import mujoco

        self._gl = self._con = None  # close() works even if construction fails below
        if not sizes:
            raise ValueError("CameraRenderer needs at least one camera: sizes={name: (height, width)}")
        self._model = model
        self._sizes: dict[str, tuple[int, int]] = {}
        for name, size in sizes.items():
            if len(size) != 2 or min(int(s) for s in size) < 1:
                raise ValueError(f"image size of camera {name!r} must be (height, width), got {size}")
            self._sizes[name] = (int(size[0]), int(size[1]))
        self._cams: dict[str, mujoco.MjvCamera] = {}
        for name in self._sizes:
            self._cams[name] = self._make_camera(name)
        self._options = mujoco.MjvOption()
        self._options.geomgroup[:] = [1, 1, 1, 0, 0, 0]  # visual groups only (collision geoms are 3, 4)
        self._options.sitegroup[:] = [0, 1, 0, 0, 0, 0]  # task markers (target, zone) only

        # Tiles of the atlas, left to right, bottom-aligned (GL's origin is the bottom-left corner).
        self._tiles: dict[str, mujoco.MjrRect] = {}
        x = 0
        for name, (h, w) in self._sizes.items():
            self._tiles[name] = mujoco.MjrRect(x, 0, w, h)
            x += w
        self._atlas_w = x
        self._atlas_h = max(h for h, _ in self._sizes.values())
        self._use_atlas = len(self._sizes) > 1 and self._atlas_w <= self.MAX_ATLAS_WIDTH
        need_w = self._atlas_w if self._use_atlas else max(w for _, w in self._sizes.values())
        need_h = self._atlas_h
        self._buf_w = max(need_w, model.vis.global_.offwidth)
        self._buf_h = max(need_h, model.vis.global_.offheight)

        if mujoco.GLContext is not None:
            self._gl = mujoco.GLContext(self._buf_w, self._buf_h)
            self._gl.make_current()
        self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100.value)
        if self._con.offWidth < self._buf_w or self._con.offHeight < self._buf_h:
            mujoco.mjr_resizeOffscreen(self._buf_w, self._buf_h, self._con)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, self._con)
        self._scene = mujoco.MjvScene(model, maxgeom=max_geom or max(1000, 2 * (model.ngeom + model.nsite) + 100))
        self._perturb = mujoco.MjvPerturb()
        self._readback = np.empty((self._atlas_h, self._atlas_w, 3), np.uint8) if self._use_atlas else None
        self._single: dict[tuple[int, int], np.ndarray] = {}  # one camera (render), per image size
        gl_info()

    def _make_camera(self, camera: str | int):
        import mujoco

        cid = camera
        if isinstance(camera, str):
            cid = mujoco.mj_name2id(self._model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if not isinstance(cid, (int, np.integer)) or not 0 <= cid < self._model.ncam:
            cams = [self._model.camera(i).name for i in range(self._model.ncam)]
            raise ValueError(f"no camera {camera!r} in the scene; cameras: {cams}")
        cam = mujoco.MjvCamera()
        cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        cam.fixedcamid = int(cid)
        return cam

    @property
    def sizes(self) -> dict[str, tuple[int, int]]:
        return dict(self._sizes)

    def _check_open(self) -> None:
        if self._con is None:
            raise RuntimeError("CameraRenderer is closed")
        if self._gl is not None:
            self._gl.make_current()

    def render(self, data, camera: str | int, size: tuple[int, int] | None = None, out=None) -> np.ndarray:
        """One camera's RGB image (H, W, 3) uint8; ``out`` (same shape, uint8) receives it if given."""
        import mujoco

        self._check_open()
        if isinstance(camera, str) and camera in self._cams:
            cam = self._cams[camera]
        else:
            cam = self._make_camera(camera)
        h, w = size or self._sizes.get(camera) or next(iter(self._sizes.values()))
        if w > self._buf_w or h > self._buf_h:
            raise ValueError(f"image size {(h, w)} is larger than the offscreen buffer {(self._buf_h, self._buf_w)}")
        mujoco.mjv_updateScene(
            self._model, data, self._options, self._perturb, cam, mujoco.mjtCatBit.mjCAT_ALL.value, self._scene
        )
        rect = mujoco.MjrRect(0, 0, w, h)
        mujoco.mjr_render(rect, self._scene, self._con)
        buf = self._single.get((h, w))
        if buf is None:
            buf = self._single[(h, w)] = np.empty((h, w, 3), np.uint8)
        mujoco.mjr_readPixels(buf, None, rect, self._con)
        return self._flip(buf, out)

    @staticmethod
    def _flip(buf: np.ndarray, out) -> np.ndarray:
        if out is None:
            return np.ascontiguousarray(buf[::-1])
        if out.shape != buf.shape:
            raise ValueError(f"out must have shape {buf.shape}, got {out.shape}")
        np.copyto(out, buf[::-1], casting="unsafe")
        return out

    def render_all(self, data, cameras=None) -> dict[str, np.ndarray]:
        """Every camera (or the named subset) at its configured size, read back in one pass."""
        import mujoco

        names = list(self._sizes) if cameras is None else list(cameras)
        for name in names:
            if name not in self._sizes:
                raise ValueError(f"camera {name!r} was not configured; configured: {list(self._sizes)}")
        if not self._use_atlas or len(names) == 1:
            return {name: self.render(data, name) for name in names}
        self._check_open()
        first = True
        for name in names:
            if first:
                mujoco.mjv_updateScene(
                    self._model, data, self._options, self._perturb, self._cams[name],
                    mujoco.mjtCatBit.mjCAT_ALL.value, self._scene,
                )
                first = False
            else:  # geoms are camera-independent: only the camera (and the headlight with it) changes
                mujoco.mjv_updateCamera(self._model, data, self._cams[name], self._scene)
                mujoco.mjv_makeLights(self._model, data, self._scene)
            mujoco.mjr_render(self._tiles[name], self._scene, self._con)
        full = mujoco.MjrRect(0, 0, self._atlas_w, self._atlas_h)
        mujoco.mjr_readPixels(self._readback, None, full, self._con)
        images = {}
        for name in names:
            t = self._tiles[name]
            tile = self._readback[t.bottom : t.bottom + t.height, t.left : t.left + t.width]
            images[name] = np.ascontiguousarray(tile[::-1])
        return images

    def close(self) -> None:
        if self._con is not None:
            if self._gl is not None:
                self._gl.make_current()
            self._con.free()
            self._con = None
        if self._gl is not None:
            self._gl.free()
            self._gl = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown the GL library may be gone
            self.close()
