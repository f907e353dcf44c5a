"""Starting Isaac Sim from this project (``AppLauncher``), for callers that have not started it themselves.

Isaac Lab's modules import Isaac Sim, so the app must run before any task is built. Either start it yourself::

    from isaaclab.app import AppLauncher
    app = AppLauncher(headless=True, enable_cameras=True).app   # before importing anything else from Isaac Lab
    from so101_sim.isaac import make_vector_env
    env = make_vector_env("Isaac-SO-ARM101-Lift-Cube-v0", num_envs=8)

or let :func:`so101_sim.isaac.make_vector_env` do it with ``launch_app=True`` (it calls :func:`launch_app`).
"""

from __future__ import annotations

from typing import Any

from so101_sim.isaac.isaaclab_api import isaaclab_line, load, require_isaaclab

_app: Any = None


def launch_app(headless: bool = True, device: str = "cuda:0", enable_cameras: bool = True) -> Any:
    """Start Isaac Sim once per process (later calls return the same app). Cameras need ``enable_cameras``.

    Isaac Lab 3.0 runs this project's tasks without Isaac Sim (Newton physics, Warp cameras): there is no app to
    start and this returns None.
    """
    global _app
    require_isaaclab()
    if isaaclab_line() == "3.0":
        return None
    if _app is None:
        launcher = load("AppLauncher")(headless=headless, device=device, enable_cameras=enable_cameras)
        _app = launcher.app
    return _app


def running_app() -> Any:
    """The app started by :func:`launch_app`, or None."""
    return _app


def close_app() -> None:
    global _app
    if _app is not None:
        _app.close()
        _app = None
