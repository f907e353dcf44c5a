"""Agent configurations for Isaac Lab's own RL scripts (``scripts/reinforcement_learning/rsl_rl/train.py
--task Isaac-SO-ARM101-Lift-Cube-v0``): registered as ``rsl_rl_cfg_entry_point`` of every task id."""
