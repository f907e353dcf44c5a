"""The design card's top-level ``env_lerobot.py``: the lerobot-eval VectorEnvs of both backends.

A thin face over the package (:mod:`so101_sim.env_lerobot` for MuJoCo, :func:`so101_sim.isaac.make_vector_env`
for Isaac Lab). Run from this checkout's root (or with it on ``PYTHONPATH``).
"""

from so101_sim.env_lerobot import make_vector_env
from so101_sim.isaac import make_vector_env as make_isaac_vector_env

__all__ = ["make_isaac_vector_env", "make_vector_env"]
