"""The design card's top-level ``adapters.py``: units, frames and policy <-> env conversions.

A thin face over :mod:`so101_sim.adapters` (the seed's ``policy_action_to_env`` is
``policy_action_to_env_action``). Run from this checkout's root (or with it on ``PYTHONPATH``).
"""

from so101_sim.adapters import *
from so101_sim.adapters import policy_action_to_env_action as policy_action_to_env  # noqa: F401
