"""Policy serving over the Isaac-GR00T ZMQ + msgpack protocol (see ``docs/serving.md``).

- :class:`PolicyClient`: talks to any GR00T-protocol server (GR00T N1.5, N1.6/N1.7, or ``so101-sim serve``),
  building requests from the server's modality config (:class:`ServerSpec`).
- :class:`PolicyServer` + :class:`PolicyService`: serves a :class:`ChunkPolicy` (e.g. any LeRobot policy via
  :mod:`so101_sim.serving.lerobot_policy`).
- :class:`ProtocolMapping`: protocol keys <-> LeRobot/env features, shared by both sides.

zmq and msgpack are imported here; torch and lerobot only by :mod:`so101_sim.serving.lerobot_policy`.
"""

from so101_sim.serving.client import EnvDescription, LocalPolicyClient, PolicyClient, PolicyServerError, ServerSpec
from so101_sim.serving.history import ObservationHistory
from so101_sim.serving.mapping import ProtocolMapping
from so101_sim.serving.server import ChunkPolicy, PolicyFeatures, PolicyServer, PolicyService
from so101_sim.serving.wire import ModalityConfig, ProtocolError, pack, unpack

__all__ = [
    "ChunkPolicy",
    "EnvDescription",
    "LocalPolicyClient",
    "ModalityConfig",
    "ObservationHistory",
    "PolicyClient",
    "PolicyFeatures",
    "PolicyServer",
    "PolicyServerError",
    "PolicyService",
    "ProtocolError",
    "ProtocolMapping",
    "ServerSpec",
    "pack",
    "unpack",
]
