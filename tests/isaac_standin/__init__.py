"""A CPU stand-in for the part of Isaac Lab 2.3 this project uses (Isaac Sim cannot run on CI machines).

It exports exactly the aliases of ``so101_sim.isaac.isaaclab_api.NAMES`` (select it with
``SO101_ISAACLAB_STANDIN=isaac_standin``). Config classes are generated from that list and accept only the listed
fields. Runtime objects mimic Isaac Lab's types and behaviour where the backend depends on them: batched torch
tensors on ``cfg.sim.device``, observation groups (dict of tensors, or one tensor when concatenated), URDF body
and joint names (the URDF is parsed and its forward kinematics computed), ``body_link_pos_w``/``quat_w``,
``episode_length_buf``/``max_episode_length``, termination terms, auto-reset inside ``step()`` before the
observations are computed, and TiledCamera ``rgb`` outputs as uint8 (N, H, W, 3). Physics is a first-order servo
toward the joint targets; objects stay where they are reset.
"""

# ruff: noqa: B008, RUF012  (Isaac Lab's own signatures and class attributes, mimicked as they are)
from __future__ import annotations

import copy
import math
import re
import xml.etree.ElementTree as ET
from enum import Enum
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from so101_sim.isaac.isaaclab_api import NAMES

# ---- configuration classes (generated from NAMES: only the listed fields exist) ---------------------------------
_MISSING = object()


class _Cfg:
    _fields: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}
    _positional: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(self._positional):
            raise TypeError(f"{type(self).__name__} takes at most {len(self._positional)} positional arguments")
        kwargs.update(zip(self._positional, args))
        unknown = [k for k in kwargs if k not in self._fields]
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected field(s) {unknown}; "
                            f"the list in isaaclab_api.NAMES allows {list(self._fields)}")
        for name in self._fields:
            value = kwargs[name] if name in kwargs else copy.deepcopy(self._defaults.get(name))
            setattr(self, name, value)
        post = getattr(self, "__post_init__", None)
        if post is not None:
            post()

    def replace(self, **kwargs: Any) -> _Cfg:
        out = copy.deepcopy(self)
        for k, v in kwargs.items():
            setattr(out, k, v)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def _cfg(alias: str, defaults: dict[str, Any] | None = None, positional: tuple[str, ...] = (),
         **nested: type) -> type:
    entry = NAMES[alias]
    attrs = {"_fields": tuple(m for m in entry.members if m not in nested), "_defaults": defaults or {},
             "_positional": positional, **nested}
    return type(alias.split(".")[-1], (_Cfg,), attrs)


def configclass(cls: type) -> type:
    """Isaac Lab's decorator turns a class into a dataclass; the stand-in's config classes already are."""
    return cls


SimulationCfg = _cfg("SimulationCfg", {"dt": 1.0 / 60.0, "render_interval": 1, "device": "cuda:0"})
ViewerCfg = _cfg("ViewerCfg", {"eye": (7.5, 7.5, 7.5), "lookat": (0.0, 0.0, 0.0)})
ManagerBasedRLEnvCfg = _cfg("ManagerBasedRLEnvCfg", {
    "sim": SimulationCfg(), "viewer": ViewerCfg(), "decimation": 1, "episode_length_s": 5.0, "commands": None,
    "recorders": None, "events": None})
InteractiveSceneCfg = _cfg("InteractiveSceneCfg", {"env_spacing": 2.0})
ArticulationCfg = _cfg("ArticulationCfg", {"soft_joint_pos_limit_factor": 1.0},
                       InitialStateCfg=_cfg("ArticulationCfg.InitialStateCfg",
                                            {"pos": (0.0, 0.0, 0.0), "rot": (1.0, 0.0, 0.0, 0.0),
                                             "joint_pos": {".*": 0.0}, "joint_vel": {".*": 0.0}}))
ImplicitActuatorCfg = _cfg("ImplicitActuatorCfg")
UrdfFileCfg = _cfg("UrdfFileCfg", {"merge_fixed_joints": True})
_JointDriveCfg = _cfg("UrdfConverterCfg.JointDriveCfg",
                      PDGainsCfg=_cfg("UrdfConverterCfg.JointDriveCfg.PDGainsCfg"))
UrdfConverterCfg = _cfg("UrdfConverterCfg", JointDriveCfg=_JointDriveCfg)
ArticulationRootPropertiesCfg = _cfg("ArticulationRootPropertiesCfg")
RigidBodyPropertiesCfg = _cfg("RigidBodyPropertiesCfg")
_ASSET_INIT = {"pos": (0.0, 0.0, 0.0), "rot": (1.0, 0.0, 0.0, 0.0)}
RigidObjectCfg = _cfg("RigidObjectCfg", InitialStateCfg=_cfg("RigidObjectCfg.InitialStateCfg", _ASSET_INIT))
AssetBaseCfg = _cfg("AssetBaseCfg", InitialStateCfg=_cfg("AssetBaseCfg.InitialStateCfg", _ASSET_INIT))
CuboidCfg = _cfg("CuboidCfg")
MassPropertiesCfg = _cfg("MassPropertiesCfg")
CollisionPropertiesCfg = _cfg("CollisionPropertiesCfg")
PreviewSurfaceCfg = _cfg("PreviewSurfaceCfg")
RigidBodyMaterialCfg = _cfg("RigidBodyMaterialCfg")
GroundPlaneCfg = _cfg("GroundPlaneCfg")
DomeLightCfg = _cfg("DomeLightCfg")
PinholeCameraCfg = _cfg("PinholeCameraCfg")
TiledCameraCfg = _cfg("TiledCameraCfg", {"data_types": ["rgb"], "update_period": 0.0},
                      OffsetCfg=_cfg("TiledCameraCfg.OffsetCfg", {"pos": (0.0, 0.0, 0.0), "rot": (1.0, 0.0, 0.0, 0.0),
                                                                  "convention": "ros"}))
ObservationGroupCfg = _cfg("ObservationGroupCfg", {"concatenate_terms": True, "enable_corruption": False})
ObservationTermCfg = _cfg("ObservationTermCfg", {"params": {}})
RewardTermCfg = _cfg("RewardTermCfg", {"params": {}})
TerminationTermCfg = _cfg("TerminationTermCfg", {"params": {}, "time_out": False})
EventTermCfg = _cfg("EventTermCfg", {"params": {}})
RecorderTermCfg = _cfg("RecorderTermCfg")
SceneEntityCfg = _cfg("SceneEntityCfg", {"preserve_order": False}, positional=("name",))
ActionStateRecorderManagerCfg = _cfg("ActionStateRecorderManagerCfg")
JointPositionActionCfg = _cfg("JointPositionActionCfg", {"scale": 1.0, "use_default_offset": True,
                                                         "preserve_order": False})
BinaryJointPositionActionCfg = _cfg("BinaryJointPositionActionCfg")
UniformPoseCommandCfg = _cfg("UniformPoseCommandCfg", {"debug_vis": False},
                             Ranges=_cfg("UniformPoseCommandCfg.Ranges"))


class DatasetExportMode(Enum):
    EXPORT_ALL = 1
    EXPORT_SUCCEEDED_ONLY = 3


class AppLauncher:
    """Records how it was asked to start; ``app`` has ``close()`` like Isaac Sim's SimulationApp."""

    launches: list[dict] = []

    def __init__(self, launcher_args: Any = None, **kwargs: Any) -> None:
        AppLauncher.launches.append(dict(kwargs))
        self.app = _StandinApp()


class _StandinApp:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class RecorderTerm:
    def __init__(self, cfg: Any, env: Any) -> None:
        self.cfg = cfg
        self._env = env

    def record_pre_step(self):
        return None, None


# ---- helpers ----------------------------------------------------------------------------------------------------
def _items(container: Any) -> list[tuple[str, Any]]:
    """Terms of a manager config: a dict, or an object's attributes (Isaac Lab accepts both)."""
    if container is None:
        return []
    if isinstance(container, dict):
        return list(container.items())
    fields = set(getattr(container, "_fields", ()))
    return [(k, v) for k, v in vars(container).items() if k not in fields and v is not None]


def _match(patterns: Any, names: list[str]) -> list[int]:
    if isinstance(patterns, str):
        patterns = [patterns]
    ids = []
    for p in patterns:
        hits = [i for i, n in enumerate(names) if re.fullmatch(p, n)]
        if not hits:
            raise ValueError(f"no joint or body matches {p!r}; available: {names}")
        ids.extend(i for i in hits if i not in ids)
    return ids


def _quat_from_rpy(r: float, p: float, y: float) -> np.ndarray:
    cr, sr, cp, sp, cy, sy = (math.cos(r / 2), math.sin(r / 2), math.cos(p / 2), math.sin(p / 2),
                              math.cos(y / 2), math.sin(y / 2))
    return np.array([cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy,
                     cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy])


def _qmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                        aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def _qrot(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    qv = torch.cat([torch.zeros_like(v[..., :1]), v], -1)
    conj = q * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=q.dtype, device=q.device)
    return _qmul(_qmul(q, qv), conj)[..., 1:]


class _Urdf:
    """Links, movable joints and the kinematic tree of a URDF (what Isaac Lab's importer turns into bodies)."""

    def __init__(self, path: str, merge_fixed_joints: bool) -> None:
        root = ET.parse(path).getroot()
        self.links = [link.get("name") for link in root.findall("link")]
        self.joints = []  # (name, type, parent, child, xyz, quat, axis, lower, upper)
        for j in root.findall("joint"):
            origin = j.find("origin")
            xyz = [float(v) for v in (origin.get("xyz", "0 0 0") if origin is not None else "0 0 0").split()]
            rpy = [float(v) for v in (origin.get("rpy", "0 0 0") if origin is not None else "0 0 0").split()]
            axis_el = j.find("axis")
            axis = [float(v) for v in (axis_el.get("xyz") if axis_el is not None else "1 0 0").split()]
            limit = j.find("limit")
            lo = float(limit.get("lower", "0")) if limit is not None else 0.0
            hi = float(limit.get("upper", "0")) if limit is not None else 0.0
            self.joints.append((j.get("name"), j.get("type"), j.find("parent").get("link"),
                                j.find("child").get("link"), xyz, _quat_from_rpy(*rpy), axis, lo, hi))
        if merge_fixed_joints:
            fixed_children = {j[3] for j in self.joints if j[1] == "fixed"}
            self.body_names = [n for n in self.links if n not in fixed_children]
        else:
            self.body_names = list(self.links)
        self.joint_names = [j[0] for j in self.joints if j[1] != "fixed"]
        self.limits = np.array([[j[7], j[8]] for j in self.joints if j[1] != "fixed"])
        children = {j[3] for j in self.joints}
        self.root = next(n for n in self.links if n not in children)

    def forward(self, q: torch.Tensor, base_pos: torch.Tensor) -> tuple[dict, dict]:
        """World positions and orientations of every link, batched over worlds."""
        n = q.shape[0]
        pos = {self.root: base_pos.clone()}
        quat = {self.root: torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=q.dtype).expand(n, 4).clone()}
        pending = list(self.joints)
        while pending:
            for j in list(pending):
                name, jtype, parent, child, xyz, jq, axis, _, _ = j
                if parent not in pos:
                    continue
                pending.remove(j)
                pq = quat[parent]
                p = pos[parent] + _qrot(pq, torch.tensor(xyz, dtype=q.dtype).expand(n, 3))
                cq = _qmul(pq, torch.tensor(jq, dtype=q.dtype).expand(n, 4))
                if jtype != "fixed":
                    angle = q[:, self.joint_names.index(name)]
                    ax = torch.tensor(axis, dtype=q.dtype)
                    dq = torch.cat([torch.cos(angle / 2)[:, None], torch.sin(angle / 2)[:, None] * ax], -1)
                    cq = _qmul(cq, dq)
                pos[child], quat[child] = p, cq
        return pos, quat


# ---- runtime objects --------------------------------------------------------------------------------------------
class ArticulationData:
    def __init__(self) -> None:
        self.joint_pos: torch.Tensor = None
        self.joint_vel: torch.Tensor = None
        self.body_link_pos_w: torch.Tensor = None
        self.body_link_quat_w: torch.Tensor = None


class Articulation:
    def __init__(self, cfg: Any, num_envs: int, origins: torch.Tensor) -> None:
        self._urdf = _Urdf(cfg.spawn.asset_path, bool(cfg.spawn.merge_fixed_joints))
        self.body_names = list(self._urdf.body_names)
        self.joint_names = list(self._urdf.joint_names)
        self._origins = origins
        self._base = torch.tensor(cfg.init_state.pos, dtype=torch.float32)
        self._limits = torch.tensor(self._urdf.limits, dtype=torch.float32).expand(num_envs, -1, -1).clone()
        default = torch.zeros(len(self.joint_names))
        for pattern, value in cfg.init_state.joint_pos.items():
            for i in _match(pattern, self.joint_names):
                default[i] = value
        self._default_joint_pos = default.expand(num_envs, -1).clone()
        self._target = self._default_joint_pos.clone()
        self.data = ArticulationData()
        self.data.joint_pos = self._default_joint_pos.clone()
        self.data.joint_vel = torch.zeros_like(self.data.joint_pos)
        self._update_kinematics()

    def find_joints(self, name_keys: Any, preserve_order: bool = False) -> tuple[list[int], list[str]]:
        """Like Isaac Lab: the articulation's order unless ``preserve_order`` (then the order of ``name_keys``)."""
        ids = _match(name_keys, self.joint_names)
        if not preserve_order:
            ids = sorted(ids)
        return ids, [self.joint_names[i] for i in ids]

    def write_joint_position_limit_to_sim(self, limits: torch.Tensor, joint_ids: Any = None, env_ids: Any = None):
        rows = slice(None) if env_ids is None else env_ids
        cols = slice(None) if joint_ids is None else list(joint_ids)
        sub = self._limits[rows]
        sub[:, cols] = limits
        self._limits[rows] = sub
        self.data.joint_pos = torch.clamp(self.data.joint_pos, self._limits[..., 0], self._limits[..., 1])
        self._update_kinematics()

    def _servo(self, dt: float, max_speed: float = 3.0) -> None:
        q = self.data.joint_pos
        target = torch.clamp(self._target, self._limits[..., 0], self._limits[..., 1])
        step = torch.clamp(target - q, -max_speed * dt, max_speed * dt)
        self.data.joint_pos = q + step
        self.data.joint_vel = step / dt

    def _update_kinematics(self) -> None:
        pos, quat = self._urdf.forward(self.data.joint_pos, self._origins + self._base)
        self.data.body_link_pos_w = torch.stack([pos[b] for b in self.body_names], 1)
        self.data.body_link_quat_w = torch.stack([quat[b] for b in self.body_names], 1)


class RigidObjectData:
    def __init__(self, pos: torch.Tensor, quat: torch.Tensor) -> None:
        self.root_link_pos_w = pos
        self.root_link_quat_w = quat


class RigidObject:
    def __init__(self, cfg: Any, num_envs: int, origins: torch.Tensor) -> None:
        self._default_pos = torch.tensor(cfg.init_state.pos, dtype=torch.float32).expand(num_envs, 3) + origins
        self._default_quat = torch.tensor(cfg.init_state.rot, dtype=torch.float32).expand(num_envs, 4).clone()
        self.data = RigidObjectData(self._default_pos.clone(), self._default_quat.clone())


class CameraData:
    def __init__(self) -> None:
        self.output: dict[str, torch.Tensor] = {}


class TiledCamera:
    """Renders a top view: background shade per world, the cube as a red square, the tool frame as a green dot."""

    def __init__(self, cfg: Any, num_envs: int) -> None:
        self._h, self._w = int(cfg.height), int(cfg.width)
        self._n = num_envs
        self.data = CameraData()

    def _render(self, scene: InteractiveScene) -> None:
        img = torch.zeros(self._n, self._h, self._w, 3, dtype=torch.uint8)
        img[..., 2] = (40 + 20 * torch.arange(self._n) % 200).to(torch.uint8)[:, None, None]
        origins = scene.env_origins

        def pixel(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            local = p - origins
            u = ((0.5 - local[:, 1] / 0.6) * self._w).long().clamp(0, self._w - 1)
            v = ((0.5 - (local[:, 0] - 0.19) / 0.6) * self._h).long().clamp(0, self._h - 1)
            return u, v

        for entity in scene._entities.values():
            if isinstance(entity, RigidObject):
                u, v = pixel(entity.data.root_link_pos_w)
                for i in range(self._n):
                    img[i, max(v[i] - 2, 0):v[i] + 3, max(u[i] - 2, 0):u[i] + 3] = torch.tensor([220, 20, 20],
                                                                                              dtype=torch.uint8)
            elif isinstance(entity, Articulation):
                u, v = pixel(entity.data.body_link_pos_w[:, -1])
                img[torch.arange(self._n), v, u] = torch.tensor([20, 220, 20], dtype=torch.uint8)
        self.data.output["rgb"] = img


class InteractiveScene:
    def __init__(self, cfg: Any, device: str) -> None:
        self.num_envs = int(cfg.num_envs)
        side = math.ceil(math.sqrt(self.num_envs))
        ids = torch.arange(self.num_envs)
        spacing = float(cfg.env_spacing)
        self.env_origins = torch.stack([(ids // side).float() * spacing, (ids % side).float() * spacing,
                                        torch.zeros(self.num_envs)], -1)
        self._entities: dict[str, Any] = {}
        for name, entity_cfg in _items(cfg):
            if isinstance(entity_cfg, ArticulationCfg):
                self._entities[name] = Articulation(entity_cfg, self.num_envs, self.env_origins)
            elif isinstance(entity_cfg, RigidObjectCfg):
                self._entities[name] = RigidObject(entity_cfg, self.num_envs, self.env_origins)
            elif isinstance(entity_cfg, TiledCameraCfg):
                self._entities[name] = TiledCamera(entity_cfg, self.num_envs)

    def __getitem__(self, key: str) -> Any:
        if key not in self._entities:
            raise KeyError(f"Scene entity with key '{key}' not found. Available Entities: '{list(self._entities)}'")
        return self._entities[key]


class TerminationManager:
    def __init__(self, cfg: Any, env: ManagerBasedRLEnv) -> None:
        self._terms = _items(cfg)
        self.active_terms = [name for name, _ in self._terms]
        self._env = env
        self._values = {name: torch.zeros(env.num_envs, dtype=torch.bool) for name in self.active_terms}

    def get_term(self, name: str) -> torch.Tensor:
        return self._values[name]

    def _compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        terminated = torch.zeros(self._env.num_envs, dtype=torch.bool)
        time_outs = torch.zeros_like(terminated)
        for name, term in self._terms:
            value = term.func(self._env, **term.params).bool()
            self._values[name] = value
            if term.time_out:
                time_outs |= value
            else:
                terminated |= value
        return terminated, time_outs


class CommandManager:
    def __init__(self, cfg: Any, env: ManagerBasedRLEnv) -> None:
        self._terms = _items(cfg)
        self._commands = {name: torch.zeros(env.num_envs, 7) for name, _ in self._terms}

    def get_command(self, name: str) -> torch.Tensor:
        return self._commands[name]

    def _resample(self, env_ids: torch.Tensor) -> None:
        for name, term in self._terms:
            r = term.ranges
            n = len(env_ids)
            for k, rng in enumerate((r.pos_x, r.pos_y, r.pos_z)):
                self._commands[name][env_ids, k] = torch.empty(n).uniform_(*rng)
            self._commands[name][env_ids, 3:] = torch.tensor([1.0, 0.0, 0.0, 0.0])


class ActionManager:
    def __init__(self, cfg: Any, env: ManagerBasedRLEnv) -> None:
        self._env = env
        self._terms = []
        for _, term in _items(cfg):
            robot = env.scene[term.asset_name]
            ids, _ = robot.find_joints(term.joint_names, preserve_order=bool(getattr(term, "preserve_order", False)))
            dim = len(ids) if isinstance(term, JointPositionActionCfg) else 1
            self._terms.append((term, robot, ids, dim))
        self.total_action_dim = sum(t[3] for t in self._terms)
        self.action = torch.zeros(env.num_envs, self.total_action_dim)
        self._prev_action = torch.zeros_like(self.action)

    def _process(self, action: torch.Tensor) -> None:
        if action.shape != (self._env.num_envs, self.total_action_dim):
            raise ValueError(f"Invalid action shape, expected: {(self._env.num_envs, self.total_action_dim)}, "
                             f"received: {tuple(action.shape)}")
        self._prev_action = self.action.clone()
        self.action = action.clone()
        col = 0
        for term, robot, ids, dim in self._terms:
            a = action[:, col:col + dim]
            col += dim
            if isinstance(term, JointPositionActionCfg):
                target = a * term.scale
                if term.use_default_offset:
                    target = target + robot._default_joint_pos[:, ids]
                robot._target[:, ids] = target
            else:
                names = [robot.joint_names[i] for i in ids]
                open_v = torch.tensor([term.open_command_expr[n] for n in names])
                close_v = torch.tensor([term.close_command_expr[n] for n in names])
                robot._target[:, ids] = torch.where(a < 0, close_v, open_v)


class ManagerBasedRLEnv(gym.Env):
    """The manager-based RL env: managers from the config, auto-reset inside ``step()`` like Isaac Lab."""

    metadata = {"render_modes": [None, "human", "rgb_array"]}

    def __init__(self, cfg: Any, render_mode: str | None = None, **kwargs: Any) -> None:
        self.cfg = cfg
        self.render_mode = render_mode
        self.device = cfg.sim.device
        self.num_envs = int(cfg.scene.num_envs)
        self.step_dt = float(cfg.sim.dt) * int(cfg.decimation)
        self.max_episode_length = math.ceil(float(cfg.episode_length_s) / self.step_dt)
        self.scene = InteractiveScene(cfg.scene, self.device)
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long)
        self.command_manager = CommandManager(cfg.commands, self)
        self.action_manager = ActionManager(cfg.actions, self)
        self.termination_manager = TerminationManager(cfg.terminations, self)
        self._rewards = _items(cfg.rewards)
        self._events = _items(cfg.events)
        self.obs_buf: dict = {}
        # Isaac Lab's env sets its gym spaces (_configure_gym_env_spaces); wrappers read them
        self.observation_space = gym.spaces.Dict({})
        self.action_space = gym.spaces.Box(-np.inf, np.inf, shape=(self.num_envs, self.action_manager.total_action_dim))
        self._log: list[tuple[int, int, bool, bool]] = []  # (world, episode step, success, time out) per done
        self._closed = False
        for _, term in self._events:
            if term.mode == "startup":
                term.func(self, None, **term.params)

    # -- managers --
    def _observations(self) -> dict:
        groups = {}
        for group_name, group in _items(self.cfg.observations):
            terms = {name: term.func(self, **term.params) for name, term in _items(group)}
            groups[group_name] = (torch.cat([t.float().flatten(1) for t in terms.values()], -1)
                                  if group.concatenate_terms else terms)
        return {g: ({k: v.to(self.device) for k, v in t.items()} if isinstance(t, dict) else t.to(self.device))
                for g, t in groups.items()}

    def _reset_idx(self, env_ids: torch.Tensor) -> None:
        self.command_manager._resample(env_ids)
        for _, term in self._events:
            if term.mode == "reset":
                term.func(self, env_ids, **term.params)
        self.episode_length_buf[env_ids] = 0
        self._refresh()

    def _refresh(self) -> None:
        for entity in self.scene._entities.values():
            if isinstance(entity, Articulation):
                entity._update_kinematics()
        for entity in self.scene._entities.values():
            if isinstance(entity, TiledCamera):
                entity._render(self.scene)

    # -- gym API --
    def reset(self, seed: int | None = None, env_ids: Any = None, options: dict | None = None):
        if seed is not None:
            torch.manual_seed(seed)
            np.random.seed(seed)
        ids = torch.arange(self.num_envs) if env_ids is None else torch.as_tensor(env_ids)
        self._reset_idx(ids)
        self.obs_buf = self._observations()
        return self.obs_buf, {}

    def step(self, action: torch.Tensor):
        if not isinstance(action, torch.Tensor):
            raise TypeError(f"Isaac Lab expects a torch.Tensor action, got {type(action).__name__}")
        self.action_manager._process(action.to(self.device))
        for entity in self.scene._entities.values():
            if isinstance(entity, Articulation):
                for _ in range(int(self.cfg.decimation)):
                    entity._servo(float(self.cfg.sim.dt))
        self._refresh()
        self.episode_length_buf += 1
        terminated, time_outs = self.termination_manager._compute()
        reward = torch.zeros(self.num_envs)
        for _, term in self._rewards:
            reward += term.weight * term.func(self, **term.params).float() * self.step_dt
        done = terminated | time_outs
        if "success" in self.termination_manager.active_terms:
            success = self.termination_manager.get_term("success")
        else:
            success = torch.zeros_like(done)
        for i in torch.nonzero(done).flatten().tolist():
            self._log.append((i, int(self.episode_length_buf[i]), bool(success[i]), bool(time_outs[i])))
        reset_ids = torch.nonzero(done).flatten()
        if len(reset_ids) > 0:
            self._reset_idx(reset_ids)
        self.obs_buf = self._observations()
        return self.obs_buf, reward, terminated, time_outs, {"log": {}}

    def render(self, recompute: bool = False):
        if self.render_mode != "rgb_array":
            return None
        frame = np.zeros((64, 64, 3), dtype=np.uint8)
        frame[..., 1] = int(self.episode_length_buf[0]) % 256
        return frame

    def close(self) -> None:
        self._closed = True


# ---- MDP functions (Isaac Lab's isaaclab.envs.mdp, same parameters) ----------------------------------------------
def _joint_ids(env: ManagerBasedRLEnv, asset_cfg: Any) -> tuple[Articulation, list[int]]:
    robot = env.scene[asset_cfg.name]
    names = asset_cfg.joint_names
    if names is None:
        return robot, list(range(len(robot.joint_names)))
    return robot, robot.find_joints(names, preserve_order=bool(asset_cfg.preserve_order))[0]


def mdp_joint_pos(env, asset_cfg=SceneEntityCfg("robot")):
    robot, ids = _joint_ids(env, asset_cfg)
    return robot.data.joint_pos[:, ids]


def mdp_joint_vel(env, asset_cfg=SceneEntityCfg("robot")):
    robot, ids = _joint_ids(env, asset_cfg)
    return robot.data.joint_vel[:, ids]


def mdp_joint_pos_rel(env, asset_cfg=SceneEntityCfg("robot")):
    robot, ids = _joint_ids(env, asset_cfg)
    return robot.data.joint_pos[:, ids] - robot._default_joint_pos[:, ids]


def mdp_joint_vel_rel(env, asset_cfg=SceneEntityCfg("robot")):
    return mdp_joint_vel(env, asset_cfg)


def mdp_last_action(env, action_name=None):
    return env.action_manager.action


def mdp_image(env, sensor_cfg=SceneEntityCfg("tiled_camera"), data_type="rgb", convert_perspective_to_orthogonal=False,
              normalize=True):
    images = env.scene[sensor_cfg.name].data.output[data_type]
    if normalize:
        images = images.float() / 255.0
        images -= images.mean(dim=(1, 2), keepdim=True)
    return images.clone()


def mdp_time_out(env):
    return env.episode_length_buf >= env.max_episode_length


def mdp_action_rate_l2(env):
    return torch.sum(torch.square(env.action_manager.action - env.action_manager._prev_action), dim=1)


def mdp_joint_vel_l2(env, asset_cfg=SceneEntityCfg("robot")):
    return torch.sum(torch.square(mdp_joint_vel(env, asset_cfg)), dim=1)


def mdp_reset_scene_to_default(env, env_ids, reset_joint_targets=False):
    for entity in env.scene._entities.values():
        if isinstance(entity, Articulation):
            entity.data.joint_pos[env_ids] = entity._default_joint_pos[env_ids]
            entity.data.joint_vel[env_ids] = 0.0
            entity._target[env_ids] = entity._default_joint_pos[env_ids]
        elif isinstance(entity, RigidObject):
            entity.data.root_link_pos_w[env_ids] = entity._default_pos[env_ids]
            entity.data.root_link_quat_w[env_ids] = entity._default_quat[env_ids]


def mdp_reset_joints_by_offset(env, env_ids, position_range, velocity_range, asset_cfg=SceneEntityCfg("robot")):
    robot, ids = _joint_ids(env, asset_cfg)
    q = robot._default_joint_pos[env_ids][:, ids] + torch.empty(len(env_ids), len(ids)).uniform_(*position_range)
    lim = robot._limits[env_ids][:, ids]
    rows = torch.as_tensor(env_ids)[:, None]
    robot.data.joint_pos[rows, torch.tensor(ids)] = torch.clamp(q, lim[..., 0], lim[..., 1])


def mdp_reset_root_state_uniform(env, env_ids, pose_range, velocity_range, asset_cfg=SceneEntityCfg("robot")):
    obj = env.scene[asset_cfg.name]
    n = len(env_ids)
    offset = torch.zeros(n, 6)
    for k, key in enumerate(("x", "y", "z", "roll", "pitch", "yaw")):
        lo, hi = pose_range.get(key, (0.0, 0.0))
        offset[:, k] = torch.empty(n).uniform_(lo, hi)
    obj.data.root_link_pos_w[env_ids] = obj._default_pos[env_ids] + offset[:, :3]
    yaw = offset[:, 5]
    dq = torch.stack([torch.cos(yaw / 2), torch.zeros(n), torch.zeros(n), torch.sin(yaw / 2)], -1)
    obj.data.root_link_quat_w[env_ids] = _qmul(obj._default_quat[env_ids], dq)
