"""End-effector pose of an Isaac Lab articulation, for :class:`so101_sim.env_wrapper.EEStateWrapper`."""

from __future__ import annotations

from typing import Any

import numpy as np

from so101_sim.isaac.isaaclab_api import as_tensor, quat_wxyz


def to_numpy(x: Any) -> Any:
    """A torch tensor or Isaac Lab 3.0 ``ProxyArray`` (any device) -> numpy; dicts recursively; else unchanged."""
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    x = as_tensor(x)
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return x


class IsaacEEPoseSource:
    """Reads ``scene[robot_name].data.body_link_pos_w / body_link_quat_w`` for one body, all worlds at once.

    Positions are returned in each world's env-local frame (world position minus ``scene.env_origins``): the
    robot base sits at its env origin with identity rotation, so this is the robot base frame and the frame of
    the MuJoCo backend. Quaternions are (w, x, y, z) (Isaac Lab 3.0's x, y, z, w are reordered; env frames are not
    rotated).
    ``body_link_*`` is the body's link frame (not its centre of mass); ``body_pos_w`` is the same quantity
    under its older alias.
    """

    batched = True

    def __init__(self, env: Any, robot_name: str = "robot", ee_link_name: str = "gripper_link",
                 local_frame: bool = True) -> None:
        self._env = getattr(env, "unwrapped", env)
        scene = self._env.scene
        try:
            self._robot = scene[robot_name]
        except KeyError as exc:
            raise KeyError(f"the Isaac Lab scene has no entity {robot_name!r} (robot_name): {exc}") from None
        names = list(self._robot.body_names)
        if ee_link_name not in names:
            raise ValueError(f"robot {robot_name!r} has no body named {ee_link_name!r} (ee_link_name); "
                             f"available bodies: {names}")
        self.robot_name = robot_name
        self.ee_link_name = ee_link_name
        self.local_frame = local_frame
        self._index = names.index(ee_link_name)

    def link_pose(self) -> tuple[np.ndarray, np.ndarray]:
        data = self._robot.data
        pos = as_tensor(data.body_link_pos_w)[:, self._index]
        if self.local_frame:
            pos = pos - as_tensor(self._env.scene.env_origins)
        quat = quat_wxyz(as_tensor(data.body_link_quat_w)[:, self._index])
        return np.asarray(to_numpy(pos), dtype=np.float64), np.asarray(to_numpy(quat), dtype=np.float64)


def resolve_link(env: Any, robot_name: str, link_name: str) -> str:
    """``link_name`` if the robot has that body, else its SO-101 alias on this arm (``gripper_link`` is
    ``gripper`` on the SO-100 and on Menagerie's SO-101 of Isaac Lab 3.0)."""
    scene = getattr(env, "unwrapped", env).scene
    names = list(scene[robot_name].body_names)
    if link_name in names:
        return link_name
    from isaac_so_arm101.robots import ROBOTS, ROBOTS_30

    for spec in (*ROBOTS_30.values(), *ROBOTS.values()):
        alias = spec.link(link_name)
        if alias in names:
            return alias
    raise ValueError(f"robot {robot_name!r} has no body named {link_name!r} (ee_link_name); available: {names}")


def IsaacEEWrapper(env: Any, robot_name: str = "robot", ee_link_name: str = "gripper_link",
                   add_ee_to_obs: bool = True):
    """The seed's ``IsaacEEWrapper`` on a raw Isaac Lab env (``gym.make(task_id, cfg=...)`` or
    ``ManagerBasedRLEnv``): :class:`so101_sim.env_wrapper.EEStateWrapper` with this backend's pose source.
    ``info["ee_state"]``, ``get_ee_state()`` and (``add_ee_to_obs``) ``ee_pos``/``ee_quat``/``ee_pos_delta``."""
    from so101_sim.env_wrapper import EEStateWrapper

    link = resolve_link(env, robot_name, ee_link_name)
    return EEStateWrapper(env, ee_link_name=link, add_ee_to_obs=add_ee_to_obs,
                          pose_source=IsaacEEPoseSource(env, robot_name, link))
