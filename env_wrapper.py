"""The design card's top-level ``env_wrapper.py`` (seed layout: ``from env_wrapper import IsaacEEWrapper``).

A thin face over the package: the wrapper lives in :mod:`so101_sim.env_wrapper`, the Isaac pose source in
:mod:`so101_sim.isaac.ee_pose_source`. Run from this checkout's root (or with it on ``PYTHONPATH``).
"""

from so101_sim.env_wrapper import EEPoseSource, EEStateWrapper, MujocoEEPoseSource
from so101_sim.isaac.ee_pose_source import IsaacEEPoseSource, IsaacEEWrapper

__all__ = ["EEPoseSource", "EEStateWrapper", "IsaacEEPoseSource", "IsaacEEWrapper", "MujocoEEPoseSource"]
