"""Isaac Lab tasks for the SO-101 and SO-100 arms, registered as gymnasium ids.

Importing this package only registers the ids (it does not import Isaac Lab). The ids follow Isaac Lab's
convention: ``gym.make(task_id, cfg=env_cfg)`` with ``entry_point="isaaclab.envs:ManagerBasedRLEnv"``, and
``env_cfg_entry_point`` (what Isaac Lab's training scripts load, the RL variant). ``vla_env_cfg_entry_point`` is
the same task with the absolute joint action and cameras (``so101_sim.isaac.make_vector_env`` uses it).

=================================  ======  =====  =====================================================
id                                 robot   task   notes
=================================  ======  =====  =====================================================
Isaac-SO-ARM101-Reach-v0           SO-101  reach
Isaac-SO-ARM101-Reach-Play-v0      SO-101  reach  16 worlds
Isaac-SO-ARM101-Lift-Cube-v0       SO-101  lift   the default task
Isaac-SO-ARM101-Lift-Cube-Play-v0  SO-101  lift   16 worlds
Isaac-SO-ARM101-Lift-Cube-Fixed-v0 SO-101  lift   the cube always at (0.20, 0), yaw 0: MuJoCo's LiftFixed-v0
Isaac-SO-ARM100-Reach-v0           SO-100  reach
Isaac-SO-ARM100-Lift-Cube-v0       SO-100  lift
=================================  ======  =====  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

DEFAULT_TASK = "Isaac-SO-ARM101-Lift-Cube-v0"


@dataclass(frozen=True)
class TaskInfo:
    robot: str
    task: str
    play: bool
    instruction: str
    mujoco_task: str = ""  # the so101_sim.tasks definition it shares with the MuJoCo backend (same id, same task)


TASKS: dict[str, TaskInfo] = {
    "Isaac-SO-ARM101-Reach-v0": TaskInfo("SO-101", "reach", False, "Move the gripper to the green target."),
    "Isaac-SO-ARM101-Reach-Play-v0": TaskInfo("SO-101", "reach", True, "Move the gripper to the green target."),
    "Isaac-SO-ARM101-Lift-Cube-v0": TaskInfo("SO-101", "lift", False, "Pick up the red cube."),
    "Isaac-SO-ARM101-Lift-Cube-Play-v0": TaskInfo("SO-101", "lift", True, "Pick up the red cube."),
    "Isaac-SO-ARM101-Lift-Cube-Fixed-v0": TaskInfo("SO-101", "lift", False, "Pick up the red cube.", "LiftFixed-v0"),
    "Isaac-SO-ARM100-Reach-v0": TaskInfo("SO-100", "reach", False, "Move the gripper to the green target."),
    "Isaac-SO-ARM100-Lift-Cube-v0": TaskInfo("SO-100", "lift", False, "Pick up the red cube."),
}


def task_info(task_id: str) -> TaskInfo:
    if task_id not in TASKS:
        raise ValueError(f"unknown Isaac task {task_id!r}; choose one of {sorted(TASKS)}")
    return TASKS[task_id]


def make_task_cfg(task_id: str, variant: str = "vla", **overrides):
    """The configuration of a registered task (imports Isaac Lab: call it with the app running)."""
    from isaac_so_arm101.env_cfg import make_env_cfg

    info = task_info(task_id)
    return make_env_cfg(info.robot, info.task, variant, play=info.play, mujoco_task=info.mujoco_task or None,
                        **overrides)


_RL_ENTRY = {
    "Isaac-SO-ARM101-Reach-v0": "so101_reach_rl",
    "Isaac-SO-ARM101-Reach-Play-v0": "so101_reach_rl_play",
    "Isaac-SO-ARM101-Lift-Cube-v0": "so101_lift_rl",
    "Isaac-SO-ARM101-Lift-Cube-Play-v0": "so101_lift_rl_play",
    "Isaac-SO-ARM101-Lift-Cube-Fixed-v0": "so101_lift_fixed_rl",
    "Isaac-SO-ARM100-Reach-v0": "so100_reach_rl",
    "Isaac-SO-ARM100-Lift-Cube-v0": "so100_lift_rl",
}


def register() -> None:
    for task_id, info in TASKS.items():
        if task_id in gym.registry:
            continue
        gym.register(
            id=task_id,
            entry_point="isaaclab.envs:ManagerBasedRLEnv",
            disable_env_checker=True,
            kwargs={
                "env_cfg_entry_point": f"isaac_so_arm101.env_cfg:{_RL_ENTRY[task_id]}",
                "vla_env_cfg_entry_point": "isaac_so_arm101:make_task_cfg",
                # Isaac Lab's scripts/reinforcement_learning/rsl_rl/train.py --task <id>
                "rsl_rl_cfg_entry_point": "isaac_so_arm101.agents.rsl_rl_ppo_cfg:"
                + ("ReachPPORunnerCfg" if info.task == "reach" else "LiftPPORunnerCfg"),
            },
        )


register()
