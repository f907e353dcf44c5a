"""Simulated SO-101 follower (``--robot.type=so101_sim``) and expert teleoperator (``--teleop.type=so101_sim_expert``)."""

from so101_sim.lerobot.robot.config_so101_sim import SO101SimConfig, SO101SimExpertConfig  # noqa: F401
from so101_sim.lerobot.robot.so101_sim import SO101Sim, SO101SimExpert  # noqa: F401
