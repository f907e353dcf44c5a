"""SO-101 simulation for LeRobot.

Importing the package registers the MuJoCo tasks as gymnasium ids (``so101_sim/Reach-v0``, ``Lift-v0``,
``LiftFixed-v0``, ``PickPlace-v0``). The ids are registered without gymnasium's OrderEnforcing, TimeLimit and
env-checker wrappers: gymnasium 1.x wrappers do not forward attributes, and lerobot-eval reads
``task_description`` and ``_max_episode_steps`` straight off the env. The env implements its own time limit.
"""

from __future__ import annotations

from so101_sim.mujoco.rendering import select_gl_backend

select_gl_backend()  # before anything imports mujoco: MuJoCo picks its GL backend at import time

import gymnasium as gym  # noqa: E402

from so101_sim.tasks import TASKS  # noqa: E402

__version__ = "0.1.0"
ENV_NAMESPACE = "so101_sim"


def _register() -> None:
    for name in TASKS:
        env_id = f"{ENV_NAMESPACE}/{name}"
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="so101_sim.mujoco.env:SO101Env",
            kwargs={"task": name},
            order_enforce=False,
            disable_env_checker=True,
        )


_register()
