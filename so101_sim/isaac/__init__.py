"""The Isaac Lab backend (GPU, many worlds per process). Imports nothing from Isaac Lab at import time.

Entry point: :func:`make_vector_env` builds one of the ``isaac_so_arm101`` tasks and returns it as an
:class:`~so101_sim.isaac.vector_env.IsaacAsVectorEnv`, the VectorEnv ``lerobot-eval`` needs. Isaac Sim must be
running first (see :mod:`so101_sim.isaac.app`), or pass ``launch_app=True``. Without Isaac Lab installed, asking
for the backend raises :class:`IsaacLabNotInstalledError` (an ``ImportError``) with the install steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from so101_sim.isaac.isaaclab_api import (
    INSTALL_STEPS,
    IsaacLabNotInstalledError,
    isaaclab_available,
    require_isaaclab,
)

if TYPE_CHECKING:
    from so101_sim.isaac.vector_env import IsaacAsVectorEnv

DEFAULT_TASK = "Isaac-SO-ARM101-Lift-Cube-v0"
CAMERAS = ("camera1", "camera2")  # camera1 = front (above the workspace), camera2 = wrist

__all__ = [
    "CAMERAS", "DEFAULT_TASK", "INSTALL_STEPS", "IsaacLabNotInstalledError", "isaaclab_available",
    "make_vector_env", "require_isaaclab",
]


def make_vector_env(
    task: str = DEFAULT_TASK,
    num_envs: int = 1,
    *,
    units: str = "lerobot",
    cameras: Sequence[str] = ("camera1", "camera2"),
    image_size: tuple[int, int] | int = (256, 256),
    episode_length: int | None = None,
    robot_name: str = "robot",
    ee_link_name: str | None = "gripper_link",
    add_ee_to_obs: bool = True,
    launch_app: bool = False,
    headless: bool = True,
    device: str = "cuda:0",
    instruction: str | None = None,
) -> IsaacAsVectorEnv:
    """An Isaac Lab SO-ARM task as a lerobot-eval VectorEnv with ``num_envs`` worlds.

    ``cameras``: any of ``camera1`` (front, above the workspace) and ``camera2`` (wrist); only those are rendered.
    ``image_size``: (height, width), or one int for square images. ``episode_length``: control steps (30 Hz), None keeps the task's.
    ``ee_link_name``: a body of the robot; SO-101 link names also work for the SO-100 (``gripper_link`` ->
    ``gripper``). None means the task's tool frame. ``launch_app=True`` starts Isaac Sim with ``headless`` and
    ``device``; otherwise the caller must have started it (AppLauncher) before this call.
    """
    from so101_sim.adapters import check_units

    check_units(units)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    unknown = [c for c in cameras if c not in CAMERAS]
    if unknown:
        raise ValueError(f"unknown camera(s) {unknown}; the Isaac tasks have {list(CAMERAS)}")
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    import isaac_so_arm101
    from isaac_so_arm101.robots import robot_spec

    info = isaac_so_arm101.task_info(task)  # clear error for an unknown task, before starting anything
    require_isaaclab()
    from so101_sim.isaac import app as app_mod
    from so101_sim.isaac.isaaclab_api import il
    from so101_sim.isaac.vector_env import IsaacAsVectorEnv

    owns_app = launch_app and app_mod.running_app() is None
    if launch_app:
        app_mod.launch_app(headless=headless, device=device, enable_cameras=bool(cameras))
    spec = robot_spec(info.robot)
    cfg = isaac_so_arm101.make_task_cfg(task, "vla", num_envs=num_envs, image_size=tuple(image_size),
                                        episode_length=episode_length, cameras=tuple(cameras))
    cfg.sim.device = device
    env = il.ManagerBasedRLEnv(cfg=cfg, render_mode=None if cameras else "rgb_array")
    link = spec.ee_body if ee_link_name is None else spec.link(ee_link_name)
    return IsaacAsVectorEnv(
        env, units=units, cameras=cameras, image_size=tuple(image_size),
        instruction=instruction if instruction is not None else info.instruction,
        robot_name=robot_name, ee_link_name=link, add_ee_to_obs=add_ee_to_obs,
        joint_low=spec.lower, joint_high=spec.upper, on_close=app_mod.close_app if owns_app else None,
    )
