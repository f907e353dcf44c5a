"""The ``env.<train|eval>.isaaclab`` observation/action mapping, read with the keys of Isaac Lab 3.0's RLinf
integration (``isaaclab_contrib.rl.rlinf.extension``), so that a config written for it needs only its task id
changed::

    isaaclab:
      task_description: "Pick up the red cube."     # "" = the task's own instruction
      main_images: camera1                          # a camera name -> main_images [B, H, W, 3]
      wrist_images: camera2                         # (ours; optional) -> wrist_images [B, H, W, 3]
      extra_view_images: [camera3]                  # camera names -> extra_view_images [B, n, H, W, 3]
      states:                                       # -> states [B, D], concatenated in this order
        - {key: agent_pos, slice: [0, 6]}
        - {key: environment_state, slice: [0, 13]}
      gr00t_mapping:                                # RLinf obs -> the GR00T observation dict
        video: {main_images: video.front, wrist_images: video.wrist, extra_view_images: [video.side]}
        state: [{gr00t_key: state.single_arm, slice: [0, 5]}, {gr00t_key: state.gripper, slice: [5, 6]}]
      action_mapping: {prefix_pad: 0, suffix_pad: 0}  # GR00T action parts -> env action (zero padding)
      obs_converter_type: so101
      embodiment_tag: new_embodiment
      embodiment_tag_id: 31
      data_config_class: ""

Our observation keys (the simulator's raw observation): cameras by name (``camera1`` front, ``camera2`` wrist,
``camera3`` side; :mod:`so101_sim.cameras`), ``agent_pos`` (6 joints, LeRobot units) and ``environment_state``
(13 values, :mod:`so101_sim.tasks`). Unlike Isaac Lab's extension, a key that is missing is an error naming the
key and what exists, never a silently shorter observation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

STATE_KEYS = ("agent_pos", "environment_state")
GR00T_TASK_KEY = "annotation.human.action.task_description"


class MappingError(ValueError):
    """A bad ``isaaclab`` block: the message names the key and what was expected."""


def _plain(cfg: Any) -> Any:
    """An OmegaConf node (or anything) as plain Python containers."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(cfg, (DictConfig, ListConfig)):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf comes with rlinf
        pass
    return cfg


def _slice(spec: Any, where: str) -> tuple[int, int]:
    if not (isinstance(spec, Sequence) and len(spec) == 2 and all(isinstance(v, int) for v in spec)):
        raise MappingError(f"{where}: slice must be [start, end] (two integers), got {spec!r}")
    lo, hi = int(spec[0]), int(spec[1])
    if not 0 <= lo < hi:
        raise MappingError(f"{where}: slice [start, end] needs 0 <= start < end, got {spec!r}")
    return lo, hi


@dataclass(frozen=True)
class StateSpec:
    key: str
    lo: int
    hi: int


@dataclass(frozen=True)
class ObsMapping:
    """The parsed ``isaaclab`` block (see the module docstring)."""

    task_description: str = ""
    main_images: str | None = None
    wrist_images: str | None = None
    extra_view_images: tuple[str, ...] = ()
    states: tuple[StateSpec, ...] = ()
    gr00t_video: dict[str, Any] = field(default_factory=dict)
    gr00t_state: tuple[tuple[str, int, int], ...] = ()
    prefix_pad: int = 0
    suffix_pad: int = 0
    obs_converter_type: str = "so101"
    embodiment_tag: str = "new_embodiment"
    embodiment_tag_id: int = 31
    data_config_class: str = ""

    @classmethod
    def from_cfg(cls, block: Any, where: str = "env.train.isaaclab") -> ObsMapping:
        block = _plain(block)
        if block is None:
            raise MappingError(f"{where} is missing: the SO-101 env reads its observation mapping from it")
        if not isinstance(block, Mapping):
            raise MappingError(f"{where} must be a mapping, got {type(block).__name__}")
        known = {
            "task_description", "main_images", "wrist_images", "extra_view_images", "states", "gr00t_mapping",
            "action_mapping", "obs_converter_type", "embodiment_tag", "embodiment_tag_id", "data_config_class",
        }  # fmt: skip
        unknown = sorted(set(block) - known)
        if unknown:
            raise MappingError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
        extra = block.get("extra_view_images") or ()
        if isinstance(extra, str):
            extra = (extra,)
        states = []
        for i, spec in enumerate(block.get("states") or ()):
            w = f"{where}.states[{i}]"
            if isinstance(spec, str):
                spec = {"key": spec}
            if not isinstance(spec, Mapping) or "key" not in spec:
                raise MappingError(f"{w}: expected {{key: <name>, slice: [start, end]}}, got {spec!r}")
            if spec["key"] not in STATE_KEYS:
                raise MappingError(f"{w}: key {spec['key']!r} is not an SO-101 state; choose one of {STATE_KEYS}")
            lo, hi = _slice(spec["slice"], w) if spec.get("slice") is not None else (0, -1)
            states.append(StateSpec(str(spec["key"]), lo, hi))
        g = block.get("gr00t_mapping") or {}
        video = dict(g.get("video") or {})
        for k in video:
            if k not in ("main_images", "wrist_images", "extra_view_images"):
                raise MappingError(f"{where}.gr00t_mapping.video: unknown key {k!r}")
        gstate = []
        for i, spec in enumerate(g.get("state") or ()):
            w = f"{where}.gr00t_mapping.state[{i}]"
            if not isinstance(spec, Mapping) or "gr00t_key" not in spec or "slice" not in spec:
                raise MappingError(f"{w}: expected {{gr00t_key: state.<name>, slice: [start, end]}}, got {spec!r}")
            gstate.append((str(spec["gr00t_key"]), *_slice(spec["slice"], w)))
        am = block.get("action_mapping") or {}
        pads = {k: int(am.get(k, 0)) for k in ("prefix_pad", "suffix_pad")}
        if min(pads.values()) < 0:
            raise MappingError(f"{where}.action_mapping: pads must be >= 0, got {pads}")
        return cls(
            task_description=str(block.get("task_description") or ""),
            main_images=block.get("main_images") or None,
            wrist_images=block.get("wrist_images") or None,
            extra_view_images=tuple(str(x) for x in extra),
            states=tuple(states),
            gr00t_video=video,
            gr00t_state=tuple(gstate),
            prefix_pad=pads["prefix_pad"],
            suffix_pad=pads["suffix_pad"],
            obs_converter_type=str(block.get("obs_converter_type") or "so101"),
            embodiment_tag=str(block.get("embodiment_tag") or "new_embodiment"),
            embodiment_tag_id=int(block.get("embodiment_tag_id", 31)),
            data_config_class=str(block.get("data_config_class") or ""),
        )

    # ------------------------------------------------------------------ simulator side
    def cameras(self) -> tuple[str, ...]:
        """Every camera the simulator must render, in a fixed order."""
        names = [c for c in (self.main_images, self.wrist_images, *self.extra_view_images) if c]
        return tuple(dict.fromkeys(names))

    def state_dim(self, widths: Mapping[str, int]) -> int:
        return sum((s.hi if s.hi > 0 else widths[s.key]) - s.lo for s in self.states)

    def wrap(self, raw: Mapping[str, Any], task_descriptions: list[str], device: torch.device | str = "cpu") -> dict:
        """Raw simulator observation (batched numpy) -> RLinf's observation dict of torch tensors."""
        out: dict[str, Any] = {"task_descriptions": list(task_descriptions)}
        pixels = raw.get("pixels") or {}

        def cam(name: str, what: str) -> torch.Tensor:
            if name not in pixels:
                raise MappingError(f"isaaclab.{what}: camera {name!r} not rendered; cameras: {sorted(pixels)}")
            return torch.as_tensor(np.asarray(pixels[name]), device=device)

        if self.main_images:
            out["main_images"] = cam(self.main_images, "main_images")
        if self.wrist_images:
            out["wrist_images"] = cam(self.wrist_images, "wrist_images")
        if self.extra_view_images:
            out["extra_view_images"] = torch.stack([cam(c, "extra_view_images") for c in self.extra_view_images], 1)
        if self.states:
            parts = []
            for s in self.states:
                if s.key not in raw:
                    raise MappingError(f"isaaclab.states: observation has no {s.key!r}; keys: {sorted(raw)}")
                x = np.asarray(raw[s.key], dtype=np.float32)
                hi = x.shape[-1] if s.hi < 0 else s.hi
                if hi > x.shape[-1]:
                    raise MappingError(
                        f"isaaclab.states: slice [{s.lo}, {hi}] of {s.key!r} exceeds its width {x.shape[-1]}"
                    )
                parts.append(torch.as_tensor(x[..., s.lo : hi], device=device))
            out["states"] = torch.cat(parts, dim=-1)
        return out

    # ------------------------------------------------------------------ GR00T side
    def to_gr00t(self, env_obs: Mapping[str, Any]) -> dict[str, Any]:
        """RLinf observation -> the GR00T observation dict (numpy, a time axis of 1)."""
        out: dict[str, Any] = {}
        for key in ("main_images", "wrist_images"):
            if key in self.gr00t_video:
                if env_obs.get(key) is None:
                    raise MappingError(f"gr00t_mapping.video.{key}: the observation has no {key}")
                out[self.gr00t_video[key]] = _np(env_obs[key])[:, None]
        names = self.gr00t_video.get("extra_view_images") or []
        if names:
            extra = env_obs.get("extra_view_images")
            if extra is None or extra.shape[1] < len(names):
                have = 0 if extra is None else extra.shape[1]
                raise MappingError(
                    f"gr00t_mapping.video.extra_view_images names {len(names)} views; observation has {have}"
                )
            for i, name in enumerate(names):
                out[name] = _np(extra[:, i])[:, None]
        if self.gr00t_state:
            states = env_obs.get("states")
            if states is None:
                raise MappingError("gr00t_mapping.state: the observation has no states")
            s = _np(states).astype(np.float32)[:, None]
            for key, lo, hi in self.gr00t_state:
                if hi > s.shape[-1]:
                    raise MappingError(
                        f"gr00t_mapping.state {key}: slice [{lo}, {hi}] exceeds states width {s.shape[-1]}"
                    )
                out[key] = s[..., lo:hi]
        out[GR00T_TASK_KEY] = list(env_obs.get("task_descriptions") or [])
        return out

    def from_gr00t_action(self, action_chunk: Mapping[str, np.ndarray], chunk_size: int = 1) -> np.ndarray:
        """GR00T action parts {name: (B, T, d)} -> env actions (B, chunk_size, prefix + sum(d) + suffix)."""
        if not action_chunk:
            raise MappingError("GR00T action chunk is empty")
        parts = [np.asarray(v)[:, :chunk_size] for v in action_chunk.values()]
        x = np.concatenate(parts, axis=-1)
        if self.prefix_pad or self.suffix_pad:
            x = np.pad(x, ((0, 0), (0, 0), (self.prefix_pad, self.suffix_pad)))
        return x


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
