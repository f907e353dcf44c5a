"""End-effector pose and deltas for any backend.

:class:`EEStateWrapper` reads the pose of an end-effector link after every ``reset()`` and ``step()``, exposes
it through :meth:`EEStateWrapper.get_ee_state`, writes it to ``info["ee_state"]`` and (unless
``add_ee_to_obs=False``) adds ``ee_pos``, ``ee_quat`` and ``ee_pos_delta`` to the observation dict.

The wrapper knows nothing about the simulator: it asks a small :class:`EEPoseSource` for the link pose. The
MuJoCo backend provides one (:class:`MujocoEEPoseSource`); the Isaac Lab backend provides its own
(``so101_sim.isaac``). Poses are always batched: ``(B, 3)`` positions in metres (world frame) and ``(B, 4)``
unit quaternions ``(w, x, y, z)``. For a single (non-vector) MuJoCo env ``B == 1`` inside, and the wrapper
returns unbatched ``(3,)``/``(4,)`` arrays so the observation matches the env's own layout.

Deltas are relative to the previous step (zero after reset): ``ee_pos_delta = p_t - p_{t-1}`` and
``ee_quat_delta = q_t * conj(q_{t-1})`` (the world-frame rotation applied during the step).
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from so101_sim.geometry import quat_conjugate, quat_multiply


class EEPoseSource(Protocol):
    """What the wrapper needs from a backend."""

    batched: bool  # True when the env is natively batched (Isaac Lab); False for a single MuJoCo env

    def link_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Current pose of the end-effector link: ``(B, 3)`` position, ``(B, 4)`` quaternion wxyz."""
        ...


class MujocoEEPoseSource:
    """Pose of a MuJoCo site or body, by name (default: Menagerie's ``gripperframe`` site)."""

    batched = False

    def __init__(self, model: Any, data: Any, link_name: str = "gripperframe") -> None:
        import mujoco

        self._data = data
        self._site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, link_name)
        self._body = -1
        if self._site < 0:
            self._body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, link_name)
        if self._site < 0 and self._body < 0:
            sites = [model.site(i).name for i in range(model.nsite)]
            bodies = [model.body(i).name for i in range(model.nbody)]
            raise ValueError(f"no site or body named {link_name!r}; sites: {sites}; bodies: {bodies}")

    def link_pose(self) -> tuple[np.ndarray, np.ndarray]:
        import mujoco

        quat = np.empty(4)
        if self._site >= 0:
            pos = self._data.site_xpos[self._site].copy()
            mujoco.mju_mat2Quat(quat, self._data.site_xmat[self._site])
        else:
            pos = self._data.xpos[self._body].copy()
            quat[:] = self._data.xquat[self._body]
        return pos[None], quat[None]


def default_pose_source(env: gym.Env, link_name: str | None) -> EEPoseSource:
    """Find the pose source for an env: it may offer ``ee_pose_source(link_name)`` (both backends do)."""
    base = env.unwrapped
    if hasattr(base, "ee_pose_source"):
        return base.ee_pose_source(link_name)
    if hasattr(base, "model") and hasattr(base, "data"):
        return MujocoEEPoseSource(base.model, base.data, link_name or "gripperframe")
    raise TypeError(f"{type(base).__name__} offers no end-effector pose source (ee_pose_source)")


class EEStateWrapper(gym.Wrapper):
    """Adds end-effector pose and deltas to observations and ``info["ee_state"]``.

    Attributes that lerobot-eval reads on the env (``task_description``, ``task``, ``_max_episode_steps``)
    are forwarded explicitly, because gymnasium 1.x wrappers do not forward attributes.
    """

    def __init__(
        self,
        env: gym.Env,
        ee_link_name: str | None = None,
        add_ee_to_obs: bool = True,
        pose_source: EEPoseSource | None = None,
    ) -> None:
        super().__init__(env)
        self.ee_link_name = ee_link_name
        self.add_ee_to_obs = add_ee_to_obs
        self._source = pose_source if pose_source is not None else default_pose_source(env, ee_link_name)
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._state: dict[str, np.ndarray] = {}
        if add_ee_to_obs and isinstance(env.observation_space, gym.spaces.Dict):
            extra = self._space_shapes()
            spaces = dict(env.observation_space.spaces)
            for key, shape in extra.items():
                spaces[key] = gym.spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float32)
            self.observation_space = gym.spaces.Dict(spaces)

    # Attributes lerobot-eval reads through hasattr()/env.call() on the outermost env.
    @property
    def task_description(self) -> str:
        return self.env.get_wrapper_attr("task_description")

    @property
    def task(self) -> str:
        return self.env.get_wrapper_attr("task")

    @property
    def _max_episode_steps(self) -> int:
        return self.env.get_wrapper_attr("_max_episode_steps")

    def _space_shapes(self) -> dict[str, tuple[int, ...]]:
        lead: tuple[int, ...] = (self.env.unwrapped.num_envs,) if self._source.batched else ()
        return {"ee_pos": lead + (3,), "ee_quat": lead + (4,), "ee_pos_delta": lead + (3,)}

    def _update(self, reset_mask: np.ndarray | None) -> None:
        pos, quat = self._source.link_pose()
        pos = np.asarray(pos, dtype=np.float64)
        quat = np.asarray(quat, dtype=np.float64)
        if self._prev is None:
            prev_pos, prev_quat = pos, quat
        else:
            prev_pos, prev_quat = self._prev
            if reset_mask is not None and reset_mask.any():
                prev_pos = np.where(reset_mask[:, None], pos, prev_pos)
                prev_quat = np.where(reset_mask[:, None], quat, prev_quat)
        dquat = quat_multiply(quat, quat_conjugate(prev_quat))
        dquat *= np.where(dquat[:, :1] < 0, -1.0, 1.0)  # canonical hemisphere: identity is (1, 0, 0, 0)
        self._prev = (pos, quat)
        state = {"ee_pos": pos, "ee_quat": quat, "ee_pos_delta": pos - prev_pos, "ee_quat_delta": dquat}
        if not self._source.batched:
            state = {k: v[0] for k, v in state.items()}
        self._state = {k: v.astype(np.float32) for k, v in state.items()}

    def get_ee_state(self) -> dict[str, np.ndarray]:
        """``{ee_pos, ee_quat, ee_pos_delta, ee_quat_delta}`` as float32 numpy arrays (copies)."""
        return {k: v.copy() for k, v in self._state.items()}

    def _augment(self, obs: Any, info: dict) -> tuple[Any, dict]:
        info = dict(info)
        info["ee_state"] = self.get_ee_state()
        if self.add_ee_to_obs and isinstance(obs, dict):
            obs = dict(obs)
            for key in ("ee_pos", "ee_quat", "ee_pos_delta"):
                obs[key] = self._state[key].copy()
        return obs, info

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._prev = None
        self._update(None)
        return self._augment(obs, info)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        # A natively batched env auto-resets the worlds that finished: their delta restarts at zero.
        mask = None
        if self._source.batched:
            mask = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        self._update(mask)
        obs, info = self._augment(obs, info)
        return obs, reward, terminated, truncated, info
