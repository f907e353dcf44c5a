"""Imported by lerobot's register_third_party_plugins(): registers so101_sim's env and policy types."""

import so101_sim.lerobot  # noqa: F401
