"""Isaac Lab's own RL scripts find an agent configuration and an RL env configuration for every task id."""

from __future__ import annotations

import importlib

import gymnasium as gym
import pytest

import isaac_so_arm101


def _load(entry: str):
    module, name = entry.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("task_id", sorted(t for t, i in isaac_so_arm101.TASKS.items() if i.robot == "SO-101"))
def test_rsl_rl_agent_and_rl_env_configs_resolve(task_id):
    spec = gym.spec(task_id)
    agent = _load(spec.kwargs["rsl_rl_cfg_entry_point"])()
    assert agent.algorithm.class_name == "PPO" and agent.actor.hidden_dims and agent.critic.hidden_dims
    assert agent.experiment_name == ("so_arm101_reach" if "Reach" in task_id else "so_arm101_lift")
    env_cfg = _load(spec.kwargs["env_cfg_entry_point"])()
    assert type(env_cfg.sim.physics).__name__ == "NewtonCfg"
    assert env_cfg.scene.num_envs == (16 if "Play" in task_id else 4096)
    assert env_cfg.observations.policy.concatenate_terms  # one flat vector for the MLP


def test_the_so100_has_no_kitless_description():
    from isaac_so_arm101.env_cfg import so100_lift_rl

    with pytest.raises(ValueError, match="SO-100 has no Isaac Lab 3.0"):
        so100_lift_rl()
