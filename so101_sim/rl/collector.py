"""Rollouts of a chunked flow policy in a SAME_STEP-autoreset vector env, into a (T, N) :class:`~.ppo.Rollout`.

One *decision* samples a chain per env and executes its first ``n_exec`` actions, one env step each. If an env's
episode ends inside a decision, the vector env has already reset it (SAME_STEP); for the rest of that decision
the env holds its reset pose (the joint targets it reports), and its next decision starts from there. The
ended episode's final privileged state (from ``info["final_info"]``) is kept for the truncation bootstrap.

RL reward per decision (``reward_mode``): ``success`` = 1 on the step the task is solved (sparse, the default);
``shaped`` = success plus potential-based shaping ``c (gamma Phi(s') - Phi(s))`` per decision (which leaves the
optimal policy unchanged), with Phi from the privileged state (:func:`lift_potential`: gripper near the cube, both
jaws on it, cube height); ``env`` = the env's dense reward summed over the executed steps, times ``reward_scale``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from so101_sim.rl.chain import ReinFlowChain
from so101_sim.rl.ppo import Rollout
from so101_sim.rl.protocol import FlowPolicyAdapter
from so101_sim.tasks import CUBE_REST_Z

REWARD_MODES = ("success", "shaped", "env")
FAILURE_KINDS = ("no_contact", "slip", "not_high_enough")


def lift_potential(priv: np.ndarray, lift_height: float) -> np.ndarray:
    """Phi(s) in [0, 3] from privileged states (..., 41): approach (1 - tanh(20 d)), both jaws touching the cube,
    cube height as a fraction of the lift height (layout: :meth:`SO101Env.privileged_state`)."""
    d = np.linalg.norm(priv[..., 16:19], axis=-1)
    contacts = priv[..., 31] * priv[..., 32]
    height = np.clip((priv[..., 2] - CUBE_REST_Z) / lift_height, 0.0, 1.0)
    return (1.0 - np.tanh(20.0 * d)) + contacts + height


class PrivilegedInfo(gym.Wrapper):
    """Adds ``info["privileged_state"]`` (the env's :meth:`privileged_state`) on reset and every step."""

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        info["privileged_state"] = self.env.unwrapped.privileged_state()
        return obs, info

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        info["privileged_state"] = self.env.unwrapped.privileged_state()
        return obs, r, te, tr, info


def make_train_envs(
    task: str, n_envs: int, *, episode_length: int | None = None, cameras: tuple[str, ...] = (), **env_kwargs: Any
) -> gym.vector.SyncVectorEnv:
    """``n_envs`` MuJoCo worlds with privileged info, SAME_STEP autoreset (as lerobot-eval's envs)."""
    import so101_sim  # noqa: F401 - registers the gym ids

    env_id = task if "/" in task else f"so101_sim/{task}"
    render_mode = "rgb_array" if cameras or env_kwargs.pop("render", False) else None

    def make_one() -> gym.Env:
        return PrivilegedInfo(
            gym.make(env_id, cameras=tuple(cameras), episode_length=episode_length, render_mode=render_mode, **env_kwargs)
        )

    return gym.vector.SyncVectorEnv([make_one for _ in range(n_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


@dataclass
class EpisodeTracker:
    """Per-env running episode facts for statistics and the failure taxonomy."""

    n: int
    lift_height: float
    ret: np.ndarray = field(init=False)
    length: np.ndarray = field(init=False)
    grasped: np.ndarray = field(init=False)
    max_height: np.ndarray = field(init=False)
    finished: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ret = np.zeros(self.n)
        self.length = np.zeros(self.n, dtype=int)
        self.grasped = np.zeros(self.n, dtype=bool)
        self.max_height = np.zeros(self.n)

    def observe(self, i: int, reward: float, priv: np.ndarray, grasped: bool) -> None:
        self.ret[i] += reward
        self.length[i] += 1
        self.grasped[i] |= grasped
        self.max_height[i] = max(self.max_height[i], float(priv[2]) - CUBE_REST_Z)

    def finish(self, i: int, success: bool, grasped_at_end: bool) -> None:
        self.finished.append(
            {
                "success": bool(success),
                "return": float(self.ret[i]),
                "length": int(self.length[i]),
                "outcome": "success" if success else classify_failure(
                    bool(self.grasped[i]), grasped_at_end, float(self.max_height[i]), self.lift_height
                ),
            }
        )
        self.ret[i], self.length[i], self.grasped[i], self.max_height[i] = 0.0, 0, False, 0.0

    def pop(self) -> list[dict[str, Any]]:
        out, self.finished = self.finished, []
        return out


def classify_failure(ever_grasped: bool, grasped_at_end: bool, max_height: float, lift_height: float) -> str:
    """no_contact: the jaws never closed on the cube; slip: it was held but lost (or lifted and dropped);
    not_high_enough: still held at the end, below the lift height."""
    if not ever_grasped:
        return "no_contact"
    if grasped_at_end and max_height < lift_height:
        return "not_high_enough"
    return "slip"


class ChunkCollector:
    """Collects (T, N) decisions; keeps the envs' state between iterations."""

    def __init__(
        self,
        envs: gym.vector.VectorEnv,
        adapter: FlowPolicyAdapter,
        chain: ReinFlowChain,
        *,
        seed: int = 0,
        reward_mode: str = "success",
        reward_scale: float = 0.01,
        shaping_coef: float = 0.1,
        gamma: float = 0.99,
    ) -> None:
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {reward_mode!r}")
        self.envs, self.adapter, self.chain = envs, adapter, chain
        self.n = envs.num_envs
        self.reward_mode, self.reward_scale = reward_mode, reward_scale
        self.shaping_coef, self.gamma = shaping_coef, gamma
        self.obs, info = envs.reset(seed=[seed + i for i in range(self.n)])
        self.priv = np.asarray(info["privileged_state"], dtype=np.float32)
        subs = [e.unwrapped for e in envs.envs]
        self.tasks = [s.task_description for s in subs]
        self.tracker = EpisodeTracker(self.n, subs[0].task_spec.lift_height)
        self.env_steps = 0
        self.env_seconds = 0.0

    @torch.no_grad()
    def collect(self, decisions: int, generator: torch.Generator | None = None) -> Rollout:
        n, n_exec = self.n, self.adapter.spec.n_exec
        dev = self.adapter.device
        ctxs, chains, logps, privs = [], [], [], []
        rewards = np.zeros((decisions, n), np.float32)
        dones = np.zeros((decisions, n), bool)
        terms = np.zeros((decisions, n), bool)
        finals = np.zeros((decisions, n, self.priv.shape[-1]), np.float32)
        for t in range(decisions):
            ctx = self.adapter.encode(self.obs, self.tasks)
            sample = self.chain.sample(self.adapter, ctx, n, generator=generator)
            actions = self.adapter.to_env_actions(sample.action)
            ctxs.append(ctx)
            chains.append(sample.chain)
            logps.append(sample.logp)
            privs.append(self.priv.copy())
            finals[t] = self.priv
            phi_start = lift_potential(self.priv, self.tracker.lift_height)
            active = np.ones(n, bool)
            for j in range(n_exec):
                hold = np.asarray(self.obs["agent_pos"], dtype=np.float32)
                act = np.where(active[:, None], actions[:, j], hold).astype(np.float32)
                t0 = time.perf_counter()
                self.obs, r, te, tr, info = self.envs.step(act)
                self.env_seconds += time.perf_counter() - t0
                self.env_steps += n
                ended = np.logical_or(te, tr)
                fin = info.get("final_info", {})
                step_priv = np.asarray(info["privileged_state"], dtype=np.float32)
                grasped = np.asarray(info.get("cube_grasped", np.zeros(n, bool)), dtype=bool)
                for i in range(n):
                    if ended[i]:  # SAME_STEP: obs/info are the new episode's; the ended one is in final_info
                        p_end = np.asarray(fin["privileged_state"][i], dtype=np.float32)
                        success, g_end = bool(fin["is_success"][i]), bool(fin["cube_grasped"][i])
                    else:
                        p_end, success, g_end = step_priv[i], bool(info["is_success"][i]), bool(grasped[i])
                    rr = 0.0
                    if active[i]:
                        rr = float(success) if self.reward_mode == "success" else self.reward_scale * float(r[i])
                        rewards[t, i] += rr
                    elif ended[i]:
                        raise RuntimeError(
                            f"env {i}: an episode ended during the hold steps of a decision; episodes must last "
                            f"longer than n_exec={n_exec} steps (raise the episode length)"
                        )
                    self.tracker.observe(i, rr, p_end, g_end)  # hold steps count towards the new episode
                    if ended[i]:
                        self.tracker.finish(i, success, g_end)
                        dones[t, i], terms[t, i] = True, bool(te[i])
                        finals[t, i] = p_end
                        active[i] = False
            self.priv = np.asarray(info["privileged_state"], dtype=np.float32)
            if self.reward_mode == "shaped":  # Phi(terminal) = 0; a truncated episode's final state keeps its Phi
                phi_end = np.where(dones[t], lift_potential(finals[t], self.tracker.lift_height),
                                   lift_potential(self.priv, self.tracker.lift_height))  # fmt: skip
                phi_end = np.where(terms[t], 0.0, phi_end)
                rewards[t] += self.shaping_coef * (self.gamma * phi_end - phi_start)
        as_t = lambda x: torch.as_tensor(x, device=dev)
        return Rollout(
            contexts=ctxs,
            chains=torch.stack(chains),
            logp=torch.stack(logps),
            privileged=as_t(np.stack(privs)),
            rewards=as_t(rewards),
            dones=as_t(dones),
            terminated=as_t(terms),
            final_privileged=as_t(finals),
            last_privileged=as_t(self.priv.copy()),
        )
