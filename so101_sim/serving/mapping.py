"""Which protocol keys mean which LeRobot/env features, and how observations and actions are laid out.

One mapping file (YAML or JSON) serves both sides, so a client and a server configured with the same file agree::

    format: auto              # what the client sends: nested (GR00T N1.6 Gr00tPolicy), flat (GR00T N1.5, and
                              # N1.6 servers wrapped for simulation); auto = flat for N1.5, nested for N1.6
                              # (switching once to flat when an N1.6 server asks for 'video.<cam>' keys)
    envelope: auto            # get_action data: "observation" ({"observation": obs, "options": ...}, N1.6/N1.7),
                              # "bare" (data is the observation, N1.5); auto = by the server's generation
    language_key: null        # nested: language[<key>]; flat: <key>. null = the server's declared key (client),
                              # "annotation.human.task_description" (server, as GR00T's SO-100 configs)
    video:                    # protocol camera -> env/LeRobot camera (pixels[<cam>], observation.images.<cam>)
      front: camera1          # client default: GR00T camera names by CAMERA_ALIASES (front -> camera1, the
      wrist: camera2          # camera above the workspace; wrist -> camera2), or an env camera of the same name
    state:                    # protocol state key -> dims; concatenated in this order = observation.state
      single_arm: 5
      gripper: 1
    action:                   # protocol action key -> dims; concatenated in this order = the policy action vector
      single_arm: 5
      gripper: 1
    environment_state: null   # protocol state key(s) -> dims forming observation.environment_state (e.g. the
                              # cube pose a scripted policy needs: {environment_state: 13}); flattened per sample
    action_horizon: null      # server: truncate chunks to this many steps (null = the policy's full chunk)

Leaving ``video``/``state``/``action`` out derives them from the policy (server) or from the server's modality
config and the env (client); a 6-dim SO-101 vector is split as GR00T's SO-100 config does (``single_arm`` 5 +
``gripper`` 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from so101_sim.cameras import CAMERAS, RECORDED_CAMERA_NAMES

FORMATS = ("auto", "nested", "flat")
ENVELOPES = ("auto", "observation", "bare")
PROTOCOLS = ("n1.5", "n1.6")  # N1.6 covers N1.7: same server_client.py
IMAGE_PREFIX = "observation.images."
FLAT_LANGUAGE_KEY = "annotation.human.task_description"
# Language keys GR00T-speaking peers are known to use (SO-100 configs, LIBERO/Simpler configs, the sim wrapper's
# legacy key, the seed's nested "task"); the server reads the first one present, after its declared key.
LANGUAGE_KEYS = (
    FLAT_LANGUAGE_KEY,
    "task",
    "annotation.human.action.task_description",
    "annotation.human.coarse_action",
)
# GR00T camera names (SO-100/SO-101 modality configs, the seed's workflow) -> this project's scene cameras, by role:
# the front camera looks at the workspace from above (camera1), the wrist camera is camera2, the side camera camera3.
_BY_ROLE = {role: cam for cam, role in RECORDED_CAMERA_NAMES.items()}  # front -> camera1, wrist -> camera2
CAMERA_ALIASES = {
    **{alias: _BY_ROLE["front"] for alias in ("front", "top", "webcam", "room", "scene", "scene_camera")},
    **{alias: _BY_ROLE["wrist"] for alias in ("wrist", "wrist_cam", "wrist_camera")},
    "side": CAMERAS[2],
}
# A state/action key that carries the whole joint vector (the seed's workflow sends {"joint_positions": (B, T, 6)}).
WHOLE_VECTOR_KEYS = ("joint_positions",)


def resolve_camera(proto: str, available: list[str] | tuple[str, ...], overrides: dict[str, str] | None = None) -> str:
    """The env camera for a protocol camera: an explicit override, an env camera of that very name, else the
    GR00T alias (``front`` -> ``camera1``, ``wrist`` -> ``camera2``); raises ``KeyError`` naming the fix."""
    if overrides and proto in overrides:
        return overrides[proto].removeprefix(IMAGE_PREFIX)
    if proto in available:
        return proto
    if proto in CAMERA_ALIASES and (not available or CAMERA_ALIASES[proto] in available):
        return CAMERA_ALIASES[proto]
    raise KeyError(
        f"the policy's camera {proto!r} is not a camera of the scene {sorted(available)} and has no default; "
        f"map it with --camera-map {proto}=<camera> (or 'video: {{{proto}: <camera>}}' in a mapping file)"
    )


def split_vector_keys(dim: int, name: str = "state") -> dict[str, int]:
    """The default split of a state/action vector into protocol keys (GR00T's SO-100 layout for 6 joints)."""
    return {"single_arm": 5, "gripper": 1} if dim == 6 else {name: dim}


@dataclass
class ProtocolMapping:
    format: str = "auto"
    envelope: str = "auto"
    language_key: str | None = None
    video: dict[str, str] | None = None
    state: dict[str, int] | None = None
    action: dict[str, int] | None = None
    environment_state: dict[str, int] | None = None
    action_horizon: int | None = None
    source: str = field(default="<defaults>", repr=False)

    def __post_init__(self) -> None:
        where = f"mapping {self.source}"
        if self.format not in FORMATS:
            raise ValueError(f"{where}: 'format' must be one of {FORMATS}, got {self.format!r}")
        if self.envelope not in ENVELOPES:
            raise ValueError(f"{where}: 'envelope' must be one of {ENVELOPES}, got {self.envelope!r}")
        if self.video is not None:
            if not isinstance(self.video, dict) or not all(isinstance(v, str) for v in self.video.values()):
                raise ValueError(f"{where}: 'video' must map protocol camera -> camera name, got {self.video!r}")
            self.video = {str(k): v for k, v in self.video.items()}
        for name in ("state", "action", "environment_state"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, dict) or not value:
                raise ValueError(f"{where}: '{name}' must map key -> number of dims, got {value!r}")
            bad = {k: v for k, v in value.items() if not isinstance(v, int) or isinstance(v, bool) or v < 1}
            if bad:
                raise ValueError(f"{where}: '{name}' dims must be positive integers, got {bad}")
            setattr(self, name, {str(k): int(v) for k, v in value.items()})
        clash = sorted(set(self.state or {}) & set(self.environment_state or {}))
        if clash:
            raise ValueError(f"{where}: key(s) {clash} are in both 'state' and 'environment_state'")
        if self.action_horizon is not None and (not isinstance(self.action_horizon, int) or self.action_horizon < 1):
            raise ValueError(f"{where}: 'action_horizon' must be a positive integer or null")

    # --- derived settings -------------------------------------------------------------------------------------
    def resolved_envelope(self, protocol: str = "n1.6") -> str:
        """The get_action envelope: as set, else by generation (N1.6/N1.7 servers unpack ``**data``)."""
        if self.envelope != "auto":
            return self.envelope
        return "bare" if protocol == "n1.5" else "observation"

    def resolved_format(self, protocol: str = "n1.6") -> str:
        if self.format != "auto":
            return self.format
        return "flat" if protocol == "n1.5" else "nested"

    @property
    def resolved_language_key(self) -> str:
        return self.language_key or FLAT_LANGUAGE_KEY

    def with_defaults(
        self,
        camera_names: list[str],
        state_dim: int | None,
        action_dim: int | None,
        env_state_dim: int | None = None,
    ) -> ProtocolMapping:
        """A copy whose missing sections are derived from the given features (None/0: feature absent)."""
        video = self.video if self.video is not None else {c: c for c in camera_names}
        state = self.state if self.state is not None or not state_dim else split_vector_keys(state_dim)
        action = self.action if self.action is not None or not action_dim else split_vector_keys(action_dim, "action")
        env = self.environment_state
        if env is None and env_state_dim:
            env = {"environment_state": env_state_dim}
        return ProtocolMapping(
            self.format, self.envelope, self.language_key, video, state, action, env, self.action_horizon, self.source
        )

    @property
    def all_state_keys(self) -> dict[str, int]:
        """Every protocol state key: the robot state's, then the environment state's."""
        return {**(self.state or {}), **(self.environment_state or {})}

    @staticmethod
    def image_key(camera: str) -> str:
        """The LeRobot batch key of an env/policy camera name (``observation.images.<cam>`` unless already full)."""
        return camera if camera.startswith("observation.") else IMAGE_PREFIX + camera

    @staticmethod
    def env_camera(camera: str) -> str:
        """The env ``pixels`` key of a camera named in the mapping (strips ``observation.images.``)."""
        return camera.removeprefix(IMAGE_PREFIX)

    # --- files ------------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<dict>") -> ProtocolMapping:
        if not isinstance(d, dict):
            raise TypeError(f"mapping {source}: expected a map at the top level, got {type(d).__name__}")
        known = {f.name for f in fields(cls)} - {"source"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"mapping {source}: unknown key(s) {unknown}; known keys are {sorted(known)}")
        return cls(**d, source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> ProtocolMapping:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"mapping file {path} does not exist")
        text = path.read_text()
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
        return cls.from_dict(data or {}, source=str(path))


# ----------------------------------------------------------------------------------------------------------------
# Vectors <-> protocol keys
# ----------------------------------------------------------------------------------------------------------------


def split_vector(vector: np.ndarray, split: dict[str, int], what: str = "vector") -> dict[str, np.ndarray]:
    """(..., D) -> {key: (..., d_key)} in the order of ``split``; D must equal the sum of the dims."""
    total = sum(split.values())
    if vector.shape[-1] != total:
        raise ValueError(
            f"{what} has {vector.shape[-1]} values in its last axis, but the mapping {split} needs {total}"
        )
    out, start = {}, 0
    for key, dim in split.items():
        out[key] = vector[..., start : start + dim]
        start += dim
    return out
