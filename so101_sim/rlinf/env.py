"""The SO-101 sim as an RLinf env: a subclass of RLinf's ``IsaaclabBaseEnv`` that builds our vector env in-process.

RLinf's env worker constructs it as ``cls(cfg, num_envs, seed_offset, total_num_processes, worker_info)`` with
``cfg = env.train`` (or ``env.eval``) and calls ``reset()`` / ``chunk_step(actions[B, C, A])``. The simulator is
:func:`so101_sim.env_lerobot.make_vector_env` (MuJoCo, or the Isaac Lab backend through the same call), with
SAME_STEP autoreset; this class turns it into RLinf's chunk contract:

- per-sub-step ``rewards [B, C]``; ``terminations``/``truncations`` ``[B, C]`` (with ``auto_reset`` the done flag
  of an env that finished anywhere in the chunk sits in the LAST column, as RLinf's base class does);
- an env that finishes mid-chunk is frozen for the rest of the chunk: its observation stays the terminal one, its
  reward is 0 and its episode statistics stop. (The simulator has already reset that world; it is sent its own
  joint positions, so it holds its initial pose until the chunk ends.)
- at chunk end, with ``auto_reset``, ``infos["final_observation"]`` / ``infos["final_info"]`` carry the terminal
  observation and episode statistics, and the returned observation is the new episode's;
- ``infos["episode"]``: ``success_once`` (TRUE task success, ``info["is_success"]``, never ``reward > 0``),
  ``return``, ``episode_len``, ``reward`` (mean reward per step).

Reward (``init_params.reward``): ``success`` (1 on the step the task is solved: sparse, as ``so101-sim rl train``
by default) or ``dense`` (the env's shaped reward times ``reward_coef``). Actions are absolute joint targets in
the env's ``init_params.units`` (LeRobot units by default; ``radians`` suits policies that read raw states),
``[B, C, 6]``; ``init_params.action_mode: delta`` makes them steps from the current joint positions, times
``action_scale`` (what a Gaussian MLP policy trained from scratch explores well with).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from omegaconf import open_dict
from rlinf.envs.isaaclab.isaaclab_env import IsaaclabBaseEnv

from so101_sim.rlinf.mapping import ObsMapping
from so101_sim.rlinf.tasks import parse_task_id

REWARDS = ("success", "dense")
ACTION_MODES = ("absolute", "delta")
ACTION_DIM = 6
SEED_STRIDE = 10_000  # env i of a worker with seed s starts from seed s * SEED_STRIDE + i


class SimBatch:
    """Our vector env with torch-facing helpers: ``device()``, full and per-env reset, one step."""

    def __init__(self, task: str, num_envs: int, *, backend: str, cameras: tuple[str, ...], image_size: Any,
                 episode_length: int, units: str = "lerobot", device: str = "cpu") -> None:  # fmt: skip
        from so101_sim.env_lerobot import make_vector_env

        kwargs: dict[str, Any] = {
            "cameras": tuple(cameras), "image_size": image_size, "episode_length": episode_length, "units": units,
        }  # fmt: skip
        if backend == "isaac":
            kwargs["launch_app"] = True
        self.envs = make_vector_env(task, num_envs, backend=backend, **kwargs)
        self.backend = backend
        self.num_envs = num_envs
        self._device = torch.device(device)
        self.raw: dict[str, Any] = {}

    def device(self) -> torch.device:
        return self._device

    def task_descriptions(self) -> list[str]:
        return list(self.envs.call("task_description"))

    def reset(self, seeds: list[int] | None = None, env_ids: list[int] | None = None) -> dict[str, Any]:
        """Reset all worlds (``seeds`` one per env) or only ``env_ids`` (sync MuJoCo vector env only)."""
        if env_ids is None:
            obs, _ = self.envs.reset(seed=seeds)
            self.raw = _copy_obs(obs)
            return self.raw
        subs = getattr(self.envs, "envs", None)
        if subs is None or not hasattr(subs[0], "reset"):
            raise NotImplementedError(f"per-env reset is not available on the {self.backend} backend; use auto_reset")
        for k, i in enumerate(env_ids):
            obs_i, _ = subs[i].reset(seed=None if seeds is None else seeds[k])
            _set_row(self.raw, i, obs_i)
        return self.raw

    def step(self, actions: np.ndarray):
        obs, r, te, tr, info = self.envs.step(actions)
        self.raw = _copy_obs(obs)
        return self.raw, np.asarray(r, np.float32), np.asarray(te, bool), np.asarray(tr, bool), info

    def close(self) -> None:
        self.envs.close()


def _copy_obs(obs: dict[str, Any]) -> dict[str, Any]:
    out = {k: np.array(v) for k, v in obs.items() if k != "pixels"}
    if "pixels" in obs:
        out["pixels"] = {c: np.array(v) for c, v in obs["pixels"].items()}
    return out


def _set_row(raw: dict[str, Any], i: int, one: dict[str, Any]) -> None:
    for k, v in one.items():
        if k == "pixels":
            for c, img in v.items():
                raw["pixels"][c][i] = img
        else:
            raw[k][i] = v


def _final_obs_rows(info: dict[str, Any], ended: np.ndarray, current: dict[str, Any]) -> dict[str, Any]:
    """The terminal raw observations of ``ended`` envs (SAME_STEP puts them in ``info["final_obs"]``)."""
    term = {k: (v.copy() if k != "pixels" else {c: a.copy() for c, a in v.items()}) for k, v in current.items()}
    for i in np.nonzero(ended)[0]:
        _set_row(term, int(i), info["final_obs"][i])
    return term


class SO101RLinfEnv(IsaaclabBaseEnv):
    """SO-101 tasks (``SO101-<Task>-<MuJoCo|Isaac>-v0``) for RLinf's ``env_type: isaaclab`` route."""

    def _init_isaaclab_env(self) -> None:
        cfg = self.cfg
        task, backend = parse_task_id(self.isaaclab_env_id)
        where = "env.eval.isaaclab" if cfg.get("is_eval", False) else "env.train.isaaclab"
        self.mapping = ObsMapping.from_cfg(cfg.get("isaaclab"), where)
        ip = cfg.init_params
        self.reward_mode = str(ip.get("reward", "success"))
        if self.reward_mode not in REWARDS:
            raise ValueError(
                f"{where.rsplit('.', 1)[0]}.init_params.reward must be one of {REWARDS}, got {self.reward_mode!r}"
            )
        if cfg.get("ignore_terminations", False):
            raise ValueError(
                "SO-101 envs end their episode on success (terminated=True); set ignore_terminations: false"
            )
        size = ip.get("image_size", 128)
        size = tuple(size) if not isinstance(size, int) else size
        self.env = SimBatch(
            task, self.num_envs, backend=backend, cameras=self.mapping.cameras(), image_size=size,
            episode_length=int(cfg.max_episode_steps), units=str(ip.get("units", "lerobot")),
            device=str(ip.get("device", "cpu")),
        )  # fmt: skip
        self.action_mode = str(ip.get("action_mode", "absolute"))
        if self.action_mode not in ACTION_MODES:
            raise ValueError(f"init_params.action_mode must be one of {ACTION_MODES}, got {self.action_mode!r}")
        self.action_scale = float(ip.get("action_scale", 1.0))
        self.reward_coef = float(cfg.get("reward_coef", 1.0))
        own = self.env.task_descriptions()
        self._tasks = [self.mapping.task_description or own[i] for i in range(self.num_envs)]
        with open_dict(cfg):
            cfg.init_params.task_description = self._tasks[0]
        self._active = np.ones(self.num_envs, bool)
        self._seeds_used = False
        self._frozen: dict[str, Any] | None = None

    # ------------------------------------------------------------------ observations, metrics
    def _wrap_obs(self, raw: dict[str, Any]) -> dict[str, Any]:
        return self.mapping.wrap(raw, self._tasks, device=self.device)

    def _record_metrics(self, step_reward, terminations, infos):
        """Episode statistics; ``success_once`` is the simulator's true success, passed in ``infos["success"]``."""
        success = infos.pop("success")
        self.returns += step_reward
        self.success_once = self.success_once | success
        episode = {
            "success_once": self.success_once.clone(),
            "return": self.returns.clone(),
            "episode_len": self.elapsed_steps.clone(),
        }
        episode["reward"] = episode["return"] / episode["episode_len"].clamp(min=1)
        infos["episode"] = episode
        return infos

    # ------------------------------------------------------------------ gym-like API used by RLinf
    def reset(self, seed: int | None = None, env_ids: torch.Tensor | None = None):
        if env_ids is None:
            if seed is not None:
                base = int(seed)
            elif not self._seeds_used:
                base = int(self.seed)
            else:
                base = None
            self._seeds_used = True
            seeds = None if base is None else [base * SEED_STRIDE + i for i in range(self.num_envs)]
            raw = self.env.reset(seeds)
            self._active[:] = True
            self._frozen = None
        else:
            ids = [int(i) for i in torch.as_tensor(env_ids).flatten().tolist()]
            raw = self.env.reset(None, ids)
            self._active[ids] = True
        self._reset_metrics(env_ids)
        return self._wrap_obs(raw), {}

    def step(self, actions=None, auto_reset=True):
        obs_list, rewards, terms, truncs, infos_list = self.chunk_step(torch.as_tensor(actions)[:, None])
        return obs_list[-1], rewards[:, 0], terms[:, 0], truncs[:, 0], infos_list[-1]

    def chunk_step(self, chunk_actions):
        acts = (
            chunk_actions.detach().cpu().numpy()
            if isinstance(chunk_actions, torch.Tensor)
            else np.asarray(chunk_actions)
        )
        if acts.ndim != 3 or acts.shape[0] != self.num_envs or acts.shape[2] != ACTION_DIM:
            raise ValueError(
                f"SO-101 chunk_step expects actions [num_envs={self.num_envs}, chunk, {ACTION_DIM}] (joint targets, "
                f"LeRobot units), got {tuple(acts.shape)}"
            )
        n, c = self.num_envs, acts.shape[1]
        dev = self.device
        active = self._active.copy()  # self._frozen: raw terminal observations of the envs that ended
        obs_list, infos_list = [], []
        rewards = torch.zeros(n, c, device=dev)
        raw_terms = torch.zeros(n, c, dtype=torch.bool, device=dev)
        raw_truncs = torch.zeros(n, c, dtype=torch.bool, device=dev)
        for j in range(c):
            hold = self.env.raw["agent_pos"]
            target = hold + self.action_scale * acts[:, j] if self.action_mode == "delta" else acts[:, j]
            a = np.where(active[:, None], target, hold).astype(np.float32)
            raw, r, te, tr, info = self.env.step(a)
            ended = (te | tr) & active
            fin = info.get("final_info", {})
            succ = np.array(info.get("is_success", np.zeros(n, bool)), bool)
            if ended.any():
                succ = np.where(ended, np.asarray(fin["is_success"], bool), succ)
            succ &= active
            if self.reward_mode == "success":
                r_step = succ.astype(np.float32)
            else:
                r_step = np.where(active, r * self.reward_coef, 0.0).astype(np.float32)
            if ended.any():
                term_raw = _final_obs_rows(info, ended, raw)
                if self._frozen is None:
                    self._frozen = term_raw
                else:
                    for i in np.nonzero(ended)[0]:
                        _copy_row(self._frozen, term_raw, int(i))
            shown = raw if self._frozen is None else _merge(raw, self._frozen, ~active | ended)
            self._elapsed_steps += torch.as_tensor(active, device=self._elapsed_steps.device, dtype=torch.int32)
            step_reward = torch.as_tensor(r_step, device=dev)
            infos = self._record_metrics(step_reward, None, {"success": torch.as_tensor(succ, device=dev)})
            rewards[:, j] = step_reward
            raw_terms[:, j] = torch.as_tensor(te & active, device=dev)
            raw_truncs[:, j] = torch.as_tensor(tr & active & ~te, device=dev)
            obs_list.append(self._wrap_obs(shown))
            infos_list.append(infos)
            active = active & ~ended
        done = ~active & self._active  # ended inside this chunk
        past_terms, past_truncs = raw_terms.any(1), raw_truncs.any(1)
        if self.auto_reset:
            if done.any():
                dones_t = torch.as_tensor(done, device=dev)
                final_obs = copy.deepcopy(obs_list[-1])
                final_info = copy.deepcopy(infos_list[-1])
                self._reset_metrics(torch.nonzero(dones_t).flatten())
                obs_list[-1] = self._wrap_obs(self.env.raw)  # the worlds already restarted (SAME_STEP)
                infos = self._record_metrics(
                    torch.zeros(n, device=dev), None, {"success": torch.zeros(n, dtype=torch.bool, device=dev)}
                )
                infos.update(final_observation=final_obs, final_info=final_info, _final_info=dones_t,
                             _final_observation=dones_t, _elapsed_steps=dones_t)  # fmt: skip
                infos_list[-1] = infos
            self._active[:] = True
            self._frozen = None
            terms_out = torch.zeros_like(raw_terms)
            truncs_out = torch.zeros_like(raw_truncs)
            terms_out[:, -1], truncs_out[:, -1] = past_terms, past_truncs
        else:
            self._active = active  # ended envs stay frozen until reset()
            terms_out, truncs_out = raw_terms, raw_truncs
        return obs_list, rewards, terms_out, truncs_out, infos_list

    def add_image(self, raw: dict[str, Any]) -> np.ndarray | None:
        """First env's main camera frame (for RLinf's video wrapper)."""
        cam = self.mapping.main_images
        if cam and "pixels" in raw:
            return np.asarray(raw["pixels"][cam][0])
        return None

    def close(self) -> None:
        self.env.close()


def _copy_row(dst: dict[str, Any], src: dict[str, Any], i: int) -> None:
    for k, v in src.items():
        if k == "pixels":
            for cam, img in v.items():
                dst["pixels"][cam][i] = img[i]
        else:
            dst[k][i] = v[i]


def _merge(current: dict[str, Any], frozen: dict[str, Any], use_frozen: np.ndarray) -> dict[str, Any]:
    """Rows of ``frozen`` where ``use_frozen``, else ``current``."""
    out = {}
    for k, v in current.items():
        if k == "pixels":
            out[k] = {c: np.where(use_frozen[:, None, None, None], frozen[k][c], a) for c, a in v.items()}
        else:
            m = use_frozen.reshape(-1, *([1] * (v.ndim - 1)))
            out[k] = np.where(m, frozen[k], v)
    return out
