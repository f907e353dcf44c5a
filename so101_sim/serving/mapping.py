"""Which protocol keys mean which LeRobot/env features, and how observations and actions are laid out.

One mapping file (YAML or JSON) serves both sides, so a client and a server configured with the same file agree::

    format: nested            # what the client sends: nested (GR00T N1.6) or flat (GR00T N1.5 / sim wrapper)
    envelope: auto            # get_action data: "observation" ({"observation": obs, "options": ...}, N1.6),
                              # "bare" (data is the observation, N1.5); auto = observation for nested, bare for flat
    language_key: null        # nested: language[<key>]; flat: <key>. null = "task" (nested) or
                              # "annotation.human.task_description" (flat)
    video:                    # protocol camera -> env/LeRobot camera (pixels[<cam>], observation.images.<cam>)
      front: front
      wrist: wrist
    state:                    # protocol state key -> dims; concatenated in this order = observation.state
      single_arm: 5
      gripper: 1
    action:                   # protocol action key -> dims; concatenated in this order = the policy action vector
      single_arm: 5
      gripper: 1
    environment_state: null   # protocol state key(s) -> dims forming observation.environment_state (e.g. the
                              # cube pose a scripted policy needs: {environment_state: 13}); flattened per sample
    action_horizon: null      # server: truncate chunks to this many steps (null = the policy's full chunk)

Leaving ``video``/``state``/``action`` out derives them from the policy (server) or the env (client); a 6-dim
SO-101 vector is split as GR00T's SO-100 config does (``single_arm`` 5 + ``gripper`` 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from so101_sim.serving.wire import ProtocolError

FORMATS = ("nested", "flat")
ENVELOPES = ("auto", "observation", "bare")
IMAGE_PREFIX = "observation.images."
FLAT_LANGUAGE_KEY = "annotation.human.task_description"
NESTED_LANGUAGE_KEY = "task"
# Language keys GR00T-speaking peers are known to use in the flat layout, tried in this order by the server.
FLAT_LANGUAGE_CANDIDATES = (FLAT_LANGUAGE_KEY, "task", "annotation.human.coarse_action")


def split_vector_keys(dim: int, name: str = "state") -> dict[str, int]:
    """The default split of a state/action vector into protocol keys (GR00T's SO-100 layout for 6 joints)."""
    return {"single_arm": 5, "gripper": 1} if dim == 6 else {name: dim}


@dataclass
class ProtocolMapping:
    format: str = "nested"
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
    @property
    def resolved_envelope(self) -> str:
        if self.envelope != "auto":
            return self.envelope
        return "observation" if self.format == "nested" else "bare"

    @property
    def resolved_language_key(self) -> str:
        if self.language_key:
            return self.language_key
        return NESTED_LANGUAGE_KEY if self.format == "nested" else FLAT_LANGUAGE_KEY

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

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}


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


def join_vector(parts: dict[str, np.ndarray], split: dict[str, int], what: str = "action") -> np.ndarray:
    """{key: (..., d_key)} -> (..., D), in the order of ``split``; names every missing key or wrong width."""
    missing = [k for k in split if k not in parts]
    if missing:
        raise ProtocolError(f"{what} is missing key(s) {missing}; got {sorted(parts)}, expected {list(split)}")
    bad = {k: tuple(np.shape(parts[k])) for k, d in split.items() if np.shape(parts[k])[-1:] != (d,)}
    if bad:
        raise ProtocolError(f"{what} key(s) have the wrong last dimension: got {bad}, expected {split}")
    return np.concatenate([np.asarray(parts[k]) for k in split], axis=-1)
