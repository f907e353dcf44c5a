"""Vector envs with the semantics lerobot-eval relies on (every face builds its envs here).

- SAME_STEP autoreset, so ``info["final_info"]["is_success"]`` exists on the step an episode ends;
- ``_max_episode_steps`` and ``task_description`` on every sub-env (the MuJoCo ids are registered bare);
- sync (``SyncVectorEnv``) or async (:class:`LeRobotAsyncVectorEnv`): lerobot 0.4.4's eval reads
  ``env.envs[0]`` to find the instruction, which ``AsyncVectorEnv`` lacks, so ours carries light
  per-process stand-ins holding the attributes that check reads (the real envs live in worker processes);
- the Isaac Lab backend returns its natively batched ``IsaacAsVectorEnv`` (GPU worlds in one process).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym

BACKENDS = ("mujoco", "isaac")


@dataclass
class SubEnvInfo:
    """What lerobot-eval's ``hasattr(env.envs[0], ...)`` checks look for, for a sub-env in another process."""

    task_description: str
    task: str
    _max_episode_steps: int
    metadata: dict


class LeRobotAsyncVectorEnv(gym.vector.AsyncVectorEnv):
    """``AsyncVectorEnv`` plus an ``envs`` list of :class:`SubEnvInfo`, read from the workers once.

    Workers are started with ``spawn`` by default: a forked worker inherits the parent's OpenGL (EGL) state,
    and rendering in it can deadlock once the parent has rendered anything.
    """

    def __init__(self, env_fns, context: str | None = "spawn", **kwargs: Any) -> None:
        super().__init__(env_fns, context=context, **kwargs)
        descriptions = self.call("task_description")
        steps = self.call("_max_episode_steps")
        self.envs = [
            SubEnvInfo(task_description=d, task=d, _max_episode_steps=int(s), metadata=dict(self.metadata))
            for d, s in zip(descriptions, steps, strict=True)
        ]


def make_vector_env(
    task: str = "Lift-v0",
    n_envs: int = 1,
    *,
    backend: str = "mujoco",
    use_async: bool = False,
    **env_kwargs: Any,
) -> gym.vector.VectorEnv:
    """A vector env of ``n_envs`` worlds of ``task`` (SAME_STEP autoreset).

    ``env_kwargs`` are the env's options (cameras, image_size, units, control_mode, tactile, episode_length,
    instruction, render_preset, ...; see :class:`so101_sim.mujoco.env.SO101Env`).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs}")
    if backend == "isaac":
        from so101_sim import isaac

        return isaac.make_vector_env(task, n_envs, **env_kwargs)
    import so101_sim  # noqa: F401 - registers the gym ids

    env_id = task if "/" in task else f"so101_sim/{task}"
    env_kwargs.setdefault("render_mode", "rgb_array")

    cls = LeRobotAsyncVectorEnv if use_async else gym.vector.SyncVectorEnv
    make_one = EnvFactory(env_id, env_kwargs)
    return cls([make_one for _ in range(n_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


@dataclass
class EnvFactory:
    """Builds one env; importable in a freshly spawned worker (it registers the gym ids itself)."""

    env_id: str
    kwargs: dict

    def __call__(self) -> gym.Env:
        import so101_sim  # noqa: F401

        return gym.make(self.env_id, **self.kwargs)
