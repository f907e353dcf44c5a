"""A batched Isaac Lab env presented as the gymnasium VectorEnv that lerobot 0.4.4's ``lerobot-eval`` expects.

Isaac Lab runs N worlds in one process on the GPU and resets finished worlds inside ``step()``; this is
gymnasium's SAME_STEP autoreset, so LeRobot never has to clone the env into processes. Layers, inside out:

1. :class:`IsaacNumpyEnv`: the Isaac Lab ``ManagerBasedRLEnv`` with numpy on the outside (actions in,
   observation groups, rewards, terminated/truncated and the ``success`` termination term out).
2. :class:`so101_sim.env_wrapper.EEStateWrapper` with :class:`IsaacEEPoseSource`: ``info["ee_state"]`` and the
   optional ``ee_pos``/``ee_quat``/``ee_pos_delta`` observation keys (batched).
3. :class:`IsaacAsVectorEnv`: LeRobot's keys and units, ``final_info``/``final_obs``, ``call()``, ``.envs``.

Observations (numpy): ``pixels`` {camera: uint8 (B, H, W, 3)}, ``agent_pos`` (B, 6) joint positions in the
chosen unit mode (:mod:`so101_sim.adapters`), ``environment_state`` (B, 13) float32 (``so101_sim.tasks``
layout), plus ``ee_pos``, ``ee_quat``, ``ee_pos_delta`` when ``add_ee_to_obs`` (LeRobot 0.4.4 ignores them).
Actions: (B, 6) absolute joint targets in the unit mode; converted to radians, clipped to the joint limits and
sent as a float32 torch tensor on the env's device.

Known limit: Isaac Lab computes observations after resetting finished worlds, so the true terminal observation
does not exist; ``info["final_obs"][i]`` holds world i's observation from the step before (one control step
earlier). ``lerobot-eval`` reads only ``final_info["is_success"]``, which is exact: it is the task's ``success``
termination term at the terminal step.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from so101_sim.adapters import check_units, radians_to_units, units_bounds, units_to_radians
from so101_sim.env_wrapper import EEStateWrapper
from so101_sim.isaac.ee_pose_source import IsaacEEPoseSource, to_numpy
from so101_sim.tasks import ENV_STATE_DIM

SUCCESS_TERM = "success"
POLICY_GROUP = "policy"
IMAGE_GROUP = "images"


class IsaacNumpyEnv(gym.Env):
    """An Isaac Lab ``ManagerBasedRLEnv`` with numpy in and out (batched: every array has the world axis first)."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"]}

    def __init__(self, env: Any, robot_name: str = "robot") -> None:
        self.isaac_env = env
        self.robot_name = robot_name
        self.num_envs = int(env.num_envs)
        self.device = env.device
        self.observation_space = gym.spaces.Dict({})
        self.action_space = gym.spaces.Box(-np.inf, np.inf, shape=(self.num_envs, int(env.action_manager.total_action_dim)),
                                           dtype=np.float32)
        self._has_success = SUCCESS_TERM in list(env.termination_manager.active_terms)
        if not self._has_success:
            # without it every episode would count as a failure in lerobot-eval: say so once, at construction
            warnings.warn(
                f"the Isaac Lab task has no {SUCCESS_TERM!r} termination term (active: "
                f"{list(env.termination_manager.active_terms)}), so info['is_success'] is always False and "
                f"lerobot-eval reports 0% success; add cfg.terminations[{SUCCESS_TERM!r}] (isaac_so_arm101's tasks "
                "have one)", RuntimeWarning, stacklevel=2)

    def ee_pose_source(self, link_name: str | None) -> IsaacEEPoseSource:
        return IsaacEEPoseSource(self.isaac_env, self.robot_name, link_name or "gripper_link")

    def _success(self) -> np.ndarray:
        if not self._has_success:
            return np.zeros(self.num_envs, dtype=bool)
        return np.asarray(to_numpy(self.isaac_env.termination_manager.get_term(SUCCESS_TERM)), dtype=bool)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, _extras = self.isaac_env.reset(seed=seed)
        return to_numpy(obs), {"is_success": np.zeros(self.num_envs, dtype=bool)}

    def step(self, action: np.ndarray):
        import torch

        act = torch.as_tensor(np.asarray(action, dtype=np.float32), device=self.device)
        obs, reward, terminated, truncated, _extras = self.isaac_env.step(act)
        info = {"is_success": self._success()}
        return (to_numpy(obs), np.asarray(to_numpy(reward), dtype=np.float32),
                np.asarray(to_numpy(terminated), dtype=bool), np.asarray(to_numpy(truncated), dtype=bool), info)

    def render(self):
        return to_numpy(self.isaac_env.render())

    def close(self) -> None:
        self.isaac_env.close()


class IsaacWorld:
    """One world of the batch, as lerobot-eval sees it through ``env.envs[i]`` (attributes and ``render()``)."""

    def __init__(self, parent: IsaacAsVectorEnv, index: int) -> None:
        self._parent = parent
        self.index = index

    @property
    def task_description(self) -> str:
        return self._parent.instruction

    @property
    def task(self) -> str:
        return self._parent.instruction

    @property
    def _max_episode_steps(self) -> int:
        return self._parent.max_episode_steps

    @property
    def metadata(self) -> dict:
        return self._parent.metadata

    def render(self) -> np.ndarray:
        return self._parent.render_world(self.index)


class IsaacAsVectorEnv(gym.vector.SyncVectorEnv):
    """The Isaac Lab env with lerobot-eval's VectorEnv semantics (see the module docstring).

    It subclasses :class:`gymnasium.vector.SyncVectorEnv` (without its constructor: nothing is cloned) for one
    reason: lerobot 0.4.4 records evaluation videos only for ``SyncVectorEnv`` instances, through
    ``env.envs[i].render()``. Every method is overridden here.
    """

    def __init__(
        self,
        env: Any,
        *,
        units: str = "lerobot",
        cameras: Sequence[str] = ("camera1", "camera2"),
        image_size: tuple[int, int] = (256, 256),
        instruction: str = "",
        robot_name: str = "robot",
        ee_link_name: str | None = "gripper_link",
        add_ee_to_obs: bool = True,
        joint_low: np.ndarray | None = None,
        joint_high: np.ndarray | None = None,
        render_camera: str | None = None,
        on_close: Any = None,
    ) -> None:
        self.units = check_units(units)
        self.cameras = tuple(cameras)
        self.instruction = instruction
        self.isaac_env = env
        self._numpy_env = IsaacNumpyEnv(env, robot_name)
        source = IsaacEEPoseSource(env, robot_name, ee_link_name or "gripper_link")
        self._inner = EEStateWrapper(self._numpy_env, ee_link_name=ee_link_name, add_ee_to_obs=add_ee_to_obs,
                                     pose_source=source)
        self.add_ee_to_obs = add_ee_to_obs
        self.num_envs = self._numpy_env.num_envs
        if self._numpy_env.action_space.shape[1] != 6:
            raise ValueError(
                f"IsaacAsVectorEnv needs the task's 6-value absolute joint action (the 'vla' variant); this env's "
                f"action has {self._numpy_env.action_space.shape[1]} values")
        self._low_rad = None if joint_low is None else np.asarray(joint_low, dtype=np.float64)
        self._high_rad = None if joint_high is None else np.asarray(joint_high, dtype=np.float64)
        low_u, high_u = units_bounds(units, self._low_rad, self._high_rad)
        self._low_u, self._high_u = np.minimum(low_u, high_u), np.maximum(low_u, high_u)
        self.max_episode_steps = int(env.max_episode_length)
        self.render_camera = render_camera or (self.cameras[0] if self.cameras else None)
        self.metadata = {
            "render_modes": ["rgb_array"],
            "render_fps": round(1.0 / float(env.step_dt)),
            "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP,
        }
        self.render_mode = "rgb_array"
        self.envs = [IsaacWorld(self, i) for i in range(self.num_envs)]
        h, w = image_size
        spaces: dict[str, gym.Space] = {
            "agent_pos": gym.spaces.Box(self._low_u.astype(np.float32), self._high_u.astype(np.float32),
                                        dtype=np.float32),
            "environment_state": gym.spaces.Box(-np.inf, np.inf, shape=(ENV_STATE_DIM,), dtype=np.float32),
        }
        if self.cameras:
            spaces["pixels"] = gym.spaces.Dict(
                {c: gym.spaces.Box(0, 255, shape=(h, w, 3), dtype=np.uint8) for c in self.cameras})
        if add_ee_to_obs:
            for key, n in (("ee_pos", 3), ("ee_quat", 4), ("ee_pos_delta", 3)):
                spaces[key] = gym.spaces.Box(-np.inf, np.inf, shape=(n,), dtype=np.float32)
        self.single_observation_space = gym.spaces.Dict(spaces)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = gym.spaces.Box(self._low_u.astype(np.float32), self._high_u.astype(np.float32),
                                                  dtype=np.float32)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._last_obs: dict[str, Any] | None = None
        self._on_close = on_close
        self.closed = False

    # ---- conversion -------------------------------------------------------------------------------------------
    def _format(self, obs: dict[str, Any]) -> dict[str, Any]:
        if POLICY_GROUP not in obs or "joint_pos" not in obs[POLICY_GROUP]:
            raise KeyError(f"the Isaac env's observations need group {POLICY_GROUP!r} with term 'joint_pos' "
                           f"(absolute, radians); got groups {sorted(obs)}")
        policy = obs[POLICY_GROUP]
        q = np.asarray(policy["joint_pos"], dtype=np.float64)
        if q.shape != (self.num_envs, 6):
            raise ValueError(f"observation 'policy/joint_pos' must have shape ({self.num_envs}, 6), got {q.shape}")
        out: dict[str, Any] = {
            "agent_pos": radians_to_units(q, self.units, self._low_rad, self._high_rad).astype(np.float32),
        }
        if "environment_state" not in policy:
            raise KeyError(
                f"the Isaac env's observation group {POLICY_GROUP!r} has no 'environment_state' term (has "
                f"{sorted(policy)}); add isaac_so_arm101.mdp.environment_state to it (the (B, {ENV_STATE_DIM}) "
                "layout of so101_sim.tasks.ENV_STATE_NAMES): a policy would otherwise see zeros for the cube")
        env_state = np.asarray(policy["environment_state"], dtype=np.float32)
        if env_state.shape != (self.num_envs, ENV_STATE_DIM):
            raise ValueError(f"observation 'policy/environment_state' must have shape ({self.num_envs}, "
                             f"{ENV_STATE_DIM}), got {env_state.shape}")
        out["environment_state"] = env_state
        if self.cameras:
            images = obs.get(IMAGE_GROUP, {})
            pixels = {}
            for cam in self.cameras:
                if cam not in images:
                    raise KeyError(f"camera {cam!r} is not in the Isaac env's {IMAGE_GROUP!r} observation group "
                                   f"(has {sorted(images)})")
                img = np.asarray(images[cam])
                if img.dtype != np.uint8 or img.ndim != 4 or img.shape[-1] != 3:
                    raise ValueError(f"camera {cam!r} must give uint8 (B, H, W, 3) images, got {img.dtype} "
                                     f"{img.shape}")
                pixels[cam] = img
            out["pixels"] = pixels
        if self.add_ee_to_obs:
            for key in ("ee_pos", "ee_quat", "ee_pos_delta"):
                if key in obs:
                    out[key] = np.asarray(obs[key], dtype=np.float32)
        return out

    def _world_obs(self, obs: dict[str, Any], i: int) -> dict[str, Any]:
        return {k: self._world_obs(v, i) if isinstance(v, dict) else v[i] for k, v in obs.items()}

    # ---- gymnasium VectorEnv API ------------------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Reset every world. Isaac Lab seeds globally, so a list of seeds seeds the batch with its first one."""
        if seed is not None and not isinstance(seed, int):
            seed = list(seed)
            seed = int(seed[0]) if seed else None
        obs, info = self._inner.reset(seed=seed, options=options)
        self._last_obs = self._format(obs)
        return self._copy(self._last_obs), dict(info)

    def step(self, actions: np.ndarray):
        a = np.asarray(actions, dtype=np.float64)
        if a.shape != (self.num_envs, 6):
            raise ValueError(f"actions must have shape ({self.num_envs}, 6) (absolute joint targets in "
                             f"{self.units!r} units), got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError("actions contain NaN or inf")
        a = np.clip(a, self._low_u, self._high_u)
        q = units_to_radians(a, self.units, self._low_rad, self._high_rad)
        obs, reward, terminated, truncated, info = self._inner.step(q.astype(np.float32))
        new_obs = self._format(obs)
        done = terminated | truncated
        success = np.asarray(info.get("is_success", np.zeros(self.num_envs, dtype=bool)), dtype=bool)
        out_info: dict[str, Any] = {"is_success": success, "_is_success": np.ones(self.num_envs, dtype=bool)}
        if "ee_state" in info:
            out_info["ee_state"] = info["ee_state"]
        if done.any():
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                final_obs[i] = self._world_obs(self._last_obs, int(i))
            out_info["final_obs"] = final_obs
            out_info["_final_obs"] = done.copy()
            out_info["final_info"] = {"is_success": success & done, "_is_success": done.copy()}
            out_info["_final_info"] = done.copy()
        self._last_obs = new_obs
        return self._copy(new_obs), reward, terminated, truncated, out_info

    @staticmethod
    def _copy(obs: dict[str, Any]) -> dict[str, Any]:
        return {k: IsaacAsVectorEnv._copy(v) if isinstance(v, dict) else np.array(v, copy=True) for k, v in obs.items()}

    def render_world(self, i: int) -> np.ndarray:
        """World ``i``'s frame: its ``render_camera`` image, or Isaac Lab's viewport when there is no camera."""
        if self.render_camera and self._last_obs is not None and "pixels" in self._last_obs:
            return self._last_obs["pixels"][self.render_camera][i].copy()
        frame = self._numpy_env.render()
        if frame is None:
            raise RuntimeError("no camera to render and the Isaac env has no rgb_array viewport")
        return np.asarray(frame)

    def render(self) -> tuple[np.ndarray, ...]:
        return tuple(self.render_world(i) for i in range(self.num_envs))

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        if name == "render":
            return self.render()
        out = []
        for world in self.envs:
            value = getattr(world, name) if hasattr(world, name) else getattr(self, name)
            out.append(value(*args, **kwargs) if callable(value) else value)
        return tuple(out)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        return tuple(getattr(world, name) if hasattr(world, name) else getattr(self, name) for world in self.envs)

    def set_attr(self, name: str, values: Any) -> None:
        raise AttributeError("IsaacAsVectorEnv does not support set_attr: configure the Isaac task instead")

    def get_ee_state(self) -> dict[str, np.ndarray]:
        """Batched end-effector state ``{ee_pos, ee_quat, ee_pos_delta, ee_quat_delta}`` (B, ...) float32."""
        return self._inner.get_ee_state()

    def close(self, **kwargs: Any) -> None:
        if self.closed:
            return
        self.closed = True
        self._numpy_env.close()
        if self._on_close is not None:
            self._on_close()

    def __del__(self) -> None:  # SyncVectorEnv.__del__ would touch attributes this class never sets
        pass
