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

from so101_sim.tasks import CUBE_HALF

_START_ATTR = "_so101_object_start"  # (N, 3) env-local object position after the last reset


def body_index(asset, name: str) -> int:
    """Index of a body by name, with the available names in the error."""
    names = list(asset.body_names)
    if name not in names:
        raise KeyError(f"no body named {name!r} in the articulation; available bodies: {names}")
    return names.index(name)


def _all_ids(env, env_ids) -> torch.Tensor | slice:
    return slice(None) if env_ids is None else env_ids


# ---- observations -------------------------------------------------------------------------------------------
def ee_pos(env, robot_name: str = "robot", body_name: str = "gripper_frame_link") -> torch.Tensor:
    """(N, 3) env-local position of a robot body."""
    robot = env.scene[robot_name]
    return robot.data.body_link_pos_w[:, body_index(robot, body_name)] - env.scene.env_origins


def ee_quat(env, robot_name: str = "robot", body_name: str = "gripper_frame_link") -> torch.Tensor:
    """(N, 4) world orientation (w, x, y, z) of a robot body (env frames are not rotated)."""
    robot = env.scene[robot_name]
    return robot.data.body_link_quat_w[:, body_index(robot, body_name)]


def object_pos(env, object_name: str = "object") -> torch.Tensor:
    return env.scene[object_name].data.root_link_pos_w - env.scene.env_origins


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
        target = env.command_manager.get_command(command_name)[:, :3]
    else:
        target = start + torch.tensor([0.0, 0.0, lift_height], device=start.device, dtype=start.dtype)
    return torch.cat([pos, obj.data.root_link_quat_w, target, start], dim=-1)


# ---- events -------------------------------------------------------------------------------------------------
def remember_object_start(env, env_ids: Sequence[int] | torch.Tensor | None, object_name: str = "object") -> None:
    """Reset event (after the object's randomisation): store where the object starts, for targets/success."""
    pos = object_pos(env, object_name)
    start = getattr(env, _START_ATTR, None)
    if start is None or start.shape != pos.shape:
        start = pos.clone()
    start[_all_ids(env, env_ids)] = pos[_all_ids(env, env_ids)]
    setattr(env, _START_ATTR, start)


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
    robot.write_joint_position_limit_to_sim(values.expand(n, -1, -1).clone(), joint_ids=joint_ids, env_ids=env_ids)


# ---- rewards ------------------------------------------------------------------------------------------------
def ee_object_distance(env, std: float = 0.1, robot_name: str = "robot", body_name: str = "gripper_frame_link",
                       object_name: str = "object") -> torch.Tensor:
    """Reaching the cube: 1 - tanh(d / std)."""
    d = torch.linalg.norm(object_pos(env, object_name) - ee_pos(env, robot_name, body_name), dim=-1)
    return 1.0 - torch.tanh(d / std)


def object_height_above_table(env, object_name: str = "object") -> torch.Tensor:
    """Height of the cube's bottom above the table top (z = 0)."""
    return object_pos(env, object_name)[:, 2] - CUBE_HALF


def object_lifted_reward(env, lift_height: float = 0.05, object_name: str = "object") -> torch.Tensor:
    """Shaped lift: fraction of the target height reached, capped at 1."""
    return torch.clamp(object_height_above_table(env, object_name) / lift_height, 0.0, 1.0)


def ee_command_distance(env, command_name: str = "ee_pose", std: float | None = None, robot_name: str = "robot",
                        body_name: str = "gripper_frame_link") -> torch.Tensor:
    """Distance from the tool frame to the commanded point; 1 - tanh(d / std) when ``std`` is given."""
    target = env.command_manager.get_command(command_name)[:, :3]
    d = torch.linalg.norm(ee_pos(env, robot_name, body_name) - target, dim=-1)
    return d if std is None else 1.0 - torch.tanh(d / std)


def success_bonus(env, term_name: str = "success") -> torch.Tensor:
    return env.termination_manager.get_term(term_name).float()


# ---- terminations -------------------------------------------------------------------------------------------
def object_lifted(env, lift_height: float = 0.05, object_name: str = "object") -> torch.Tensor:
    """Success of the lift task: the cube's bottom is ``lift_height`` above the table (MuJoCo's threshold)."""
    return object_height_above_table(env, object_name) >= lift_height


def ee_reached_command(env, command_name: str = "ee_pose", tolerance: float = 0.015, robot_name: str = "robot",
                       body_name: str = "gripper_frame_link") -> torch.Tensor:
    """Success of the reach task: the tool frame is within ``tolerance`` metres of the commanded point."""
    return ee_command_distance(env, command_name, None, robot_name, body_name) < tolerance


def object_fell(env, minimum_height: float = -0.05, object_name: str = "object") -> torch.Tensor:
    """Failure: the cube left the table."""
    return object_pos(env, object_name)[:, 2] < minimum_height
