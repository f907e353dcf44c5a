"""Imported by lerobot's register_third_party_plugins(): the simulated SO-101 robot and expert teleoperator."""

from so101_sim.lerobot.robot import SO101Sim, SO101SimConfig, SO101SimExpert, SO101SimExpertConfig  # noqa: F401
