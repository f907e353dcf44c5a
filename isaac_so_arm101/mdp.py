"""The task terms Isaac Lab's managers call: observations, rewards, terminations and events of the SO-ARM tasks.

Every function takes the env first and keyword parameters after, as Isaac Lab's managers call them. Positions
are in the env-local frame: world position minus ``env.scene.env_origins``. The robot base sits at the env
origin with identity rotation on the table top (z = 0), so env-local is also the robot base frame and the frame
of the MuJoCo backend's tasks (``so101_sim.tasks``). Only the Isaac Lab runtime attributes listed in
``so101_sim.isaac.isaaclab_api.NAMES`` are used.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from so101_sim.isaac.isaaclab_api import as_tensor, isaaclab_line, quat_wxyz
from so101_sim.tasks import CUBE_HALF

_START_ATTR = "_so101_object_start"  # (N, 3) env-local object position after the last reset
_HELD_ATTR = "_so101_lift_held_steps"  # (N,) consecutive control steps the cube has been up


def body_index(asset, name: str) -> int:
    """Index of a body by name, with the available names in the error."""
    names = list(asset.body_names)
    if name not in names:
        raise KeyError(f"no body named {name!r} in the articulation; available bodies: {names}")
    return names.index(name)


def _all_ids(env, env_ids) -> torch.Tensor | slice:
    return slice(None) if env_ids is None else env_ids


# ---- observations -------------------------------------------------------------------------------------------
def quat_rotate(q_wxyz: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v`` (N, 3) by unit quaternions (N, 4) in (w, x, y, z)."""
    w, xyz = q_wxyz[:, :1], q_wxyz[:, 1:]
    t = 2.0 * torch.linalg.cross(xyz, v, dim=-1)
    return v + w * t + torch.linalg.cross(xyz, t, dim=-1)


def ee_pos(env, robot_name: str = "robot", body_name: str = "gripper_frame_link",
           offset: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> torch.Tensor:
    """(N, 3) env-local position of a point fixed to a robot body (``offset`` in the body frame: a tool site)."""
    robot = env.scene[robot_name]
    i = body_index(robot, body_name)
    pos = as_tensor(robot.data.body_link_pos_w)[:, i] - as_tensor(env.scene.env_origins)
    if any(offset):
        quat = quat_wxyz(as_tensor(robot.data.body_link_quat_w)[:, i])
        pos = pos + quat_rotate(quat, torch.tensor(offset, device=pos.device, dtype=pos.dtype).expand_as(pos))
    return pos


def ee_quat(env, robot_name: str = "robot", body_name: str = "gripper_frame_link") -> torch.Tensor:
    """(N, 4) world orientation (w, x, y, z) of a robot body (env frames are not rotated)."""
    robot = env.scene[robot_name]
    return quat_wxyz(as_tensor(robot.data.body_link_quat_w)[:, body_index(robot, body_name)])


def object_pos(env, object_name: str = "object") -> torch.Tensor:
    return as_tensor(env.scene[object_name].data.root_link_pos_w) - as_tensor(env.scene.env_origins)


def object_start(env, object_name: str = "object") -> torch.Tensor:
    start = getattr(env, _START_ATTR, None)
    return object_pos(env, object_name) if start is None else start


def environment_state(
    env, object_name: str = "object", command_name: str | None = None, lift_height: float = 0.05
) -> torch.Tensor:
    """(N, 13) the MuJoCo backend's ``environment_state`` layout (``so101_sim.tasks.ENV_STATE_NAMES``).

    cube position (3), cube quaternion wxyz (4), task target (3): the commanded point for reach, the cube's start
    raised by ``lift_height`` for lift; cube start position (3).
    """
    obj = env.scene[object_name]
    pos = object_pos(env, object_name)
    start = object_start(env, object_name)
    if command_name is not None:
        target = as_tensor(env.command_manager.get_command(command_name))[:, :3]
    else:
        target = start + torch.tensor([0.0, 0.0, lift_height], device=start.device, dtype=start.dtype)
    return torch.cat([pos, quat_wxyz(obj.data.root_link_quat_w), target, start], dim=-1)


# ---- events -------------------------------------------------------------------------------------------------
def remember_object_start(env, env_ids: Sequence[int] | torch.Tensor | None, object_name: str = "object") -> None:
    """Reset event (after the object's randomisation): store where the object starts, for targets/success."""
    pos = object_pos(env, object_name)
    start = getattr(env, _START_ATTR, None)
    if start is None or start.shape != pos.shape:
        start = pos.clone()
    start[_all_ids(env, env_ids)] = pos[_all_ids(env, env_ids)]
    setattr(env, _START_ATTR, start)
    held = getattr(env, _HELD_ATTR, None)
    if held is not None:
        held[_all_ids(env, env_ids)] = 0


def set_joint_position_limits(
    env, env_ids: Sequence[int] | torch.Tensor | None, robot_name: str = "robot",
    limits: dict[str, tuple[float, float]] | None = None,
) -> None:
    """Start-up event: write joint limits into the simulation (so both backends share one joint space)."""
    if not limits:
        return
    robot = env.scene[robot_name]
    names = list(limits)
    joint_ids, _ = robot.find_joints(names, preserve_order=True)
    n = env.num_envs if env_ids is None else len(env_ids)
    values = torch.tensor([limits[j] for j in names], device=env.device, dtype=torch.float32)
    limits_nj2 = values.expand(n, -1, -1).clone()
    if isaaclab_line() == "3.0":
        robot.write_joint_position_limit_to_sim_index(limits=limits_nj2, joint_ids=joint_ids, env_ids=env_ids)
    else:
        robot.write_joint_position_limit_to_sim(limits_nj2, joint_ids=joint_ids, env_ids=env_ids)


# ---- rewards ------------------------------------------------------------------------------------------------
def ee_object_distance(env, std: float = 0.1, robot_name: str = "robot", body_name: str = "gripper_frame_link",
                       object_name: str = "object", offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
                       ) -> torch.Tensor:
    """Reaching the cube: 1 - tanh(d / std)."""
    d = torch.linalg.norm(object_pos(env, object_name) - ee_pos(env, robot_name, body_name, offset), dim=-1)
    return 1.0 - torch.tanh(d / std)


def object_height_above_table(env, object_name: str = "object") -> torch.Tensor:
    """Height of the cube's bottom above the table top (z = 0)."""
    return object_pos(env, object_name)[:, 2] - CUBE_HALF


def object_lifted_reward(env, lift_height: float = 0.05, object_name: str = "object") -> torch.Tensor:
    """Shaped lift: fraction of the target height reached, capped at 1."""
    return torch.clamp(object_height_above_table(env, object_name) / lift_height, 0.0, 1.0)


def ee_command_distance(env, command_name: str = "ee_pose", std: float | None = None, robot_name: str = "robot",
                        body_name: str = "gripper_frame_link", offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
                        ) -> torch.Tensor:
    """Distance from the tool frame to the commanded point; 1 - tanh(d / std) when ``std`` is given."""
    target = as_tensor(env.command_manager.get_command(command_name))[:, :3]
    d = torch.linalg.norm(ee_pos(env, robot_name, body_name, offset) - target, dim=-1)
    return d if std is None else 1.0 - torch.tanh(d / std)


def success_bonus(env, term_name: str = "success") -> torch.Tensor:
    return env.termination_manager.get_term(term_name).float()


def task_reward_feature(env, term: str, kind: str = "lift", lift_height: float = 0.05, object_name: str = "object",
                        robot_name: str = "robot", body_name: str = "gripper",
                        offset: tuple[float, float, float] = (0.0, 0.0, 0.0), command_name: str | None = None,
                        success_term: str = "success") -> torch.Tensor:
    """One feature of the MuJoCo backend's task reward (``so101_sim.tasks.manipulation_reward`` /
    ``reach_reward``); the weight is the same table's (``isaac_so_arm101.env_cfg.rewards_cfg``). ``offset``: the
    lift reward's grasp point, or the reach task's tool frame, in ``body_name``'s frame."""
    from so101_sim import tasks

    gripper = ee_pos(env, robot_name, body_name, offset)
    success = env.termination_manager.get_term(success_term).float()
    if kind == "reach":
        d = torch.linalg.norm(gripper - as_tensor(env.command_manager.get_command(command_name))[:, :3], dim=-1)
        return {"distance_penalty": d, "shaping": 1.0 - torch.tanh(10.0 * d), "success_bonus": success}[term]
    cube, start = object_pos(env, object_name), object_start(env, object_name)
    to_cube = torch.linalg.norm(gripper - cube, dim=-1)
    height = torch.clamp(cube[:, 2] - CUBE_HALF, min=0.0)
    if term == "distance_penalty":
        return torch.linalg.norm(gripper - start, dim=-1)
    if term == "approach_bonus":
        return (to_cube < tasks.APPROACH_RADIUS).float()
    if term == "height_bonus":
        return torch.clamp(height / lift_height, max=1.0)
    if term == "proximity_bonus":
        return (to_cube < tasks.PROXIMITY_RADIUS).float()
    if term == "success_bonus":
        return success
    if term == "displacement_penalty":
        d = torch.linalg.norm(cube[:, :2] - start[:, :2], dim=-1)
        pushed = (d > tasks.DISPLACEMENT_SCALE) & (height < 0.005)
        return torch.where(pushed, torch.exp(d / tasks.DISPLACEMENT_SCALE - 1.0), torch.zeros_like(d))
    raise KeyError(f"no reward term {term!r}; see so101_sim.tasks.MANIPULATION_REWARD_WEIGHTS")


# ---- terminations -------------------------------------------------------------------------------------------
def object_lifted(env, lift_height: float = 0.05, object_name: str = "object") -> torch.Tensor:
    """Success of the lift task: the cube's bottom is ``lift_height`` above the table (MuJoCo's threshold)."""
    return object_height_above_table(env, object_name) >= lift_height


def object_lifted_held(env, lift_height: float = 0.05, hold_steps: int = 10,
                       object_name: str = "object") -> torch.Tensor:
    """Success of the lift task, as in the MuJoCo backend (``so101_sim.tasks``): the cube's bottom has been
    ``lift_height`` above the table for ``hold_steps`` consecutive control steps (the termination manager calls
    this once per control step; the count restarts at reset, see :func:`remember_object_start`)."""
    up = object_lifted(env, lift_height, object_name)
    held = getattr(env, _HELD_ATTR, None)
    if held is None or held.shape != up.shape:
        held = torch.zeros(up.shape, dtype=torch.int32, device=up.device)
    held = torch.where(up, held + 1, torch.zeros_like(held))
    setattr(env, _HELD_ATTR, held)
    return held >= hold_steps


def ee_reached_command(env, command_name: str = "ee_pose", tolerance: float = 0.015, robot_name: str = "robot",
                       body_name: str = "gripper_frame_link", offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
                       ) -> torch.Tensor:
    """Success of the reach task: the tool frame is within ``tolerance`` metres of the commanded point."""
    return ee_command_distance(env, command_name, None, robot_name, body_name, offset) < tolerance


def object_fell(env, minimum_height: float = -0.05, object_name: str = "object") -> torch.Tensor:
    """Failure: the cube left the table."""
    return object_pos(env, object_name)[:, 2] < minimum_height
