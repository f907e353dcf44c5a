"""Mapping files: which HDF5 datasets become which LeRobot features (see docs/converter.md for the format).

A mapping is a small YAML file; the shipped ones are package data (``so101_sim/assets/mappings/``, linked from
``converters/mappings/``) and can be named by their stem (``--mapping so101``). Sizes never appear in a mapping:
they come from the HDF5 file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from so101_sim.adapters import JOINT_NAMES, UNIT_MODES
from so101_sim.assets import mapping_resources
from so101_sim.convert.errors import ConversionError
from so101_sim.tactile_grid import DEFAULT_GRID_SHAPE, DEFAULT_SIGMA

DEFAULT_MAPPING = "franka_tactile"


@dataclass(frozen=True)
class Term:
    """One HDF5 dataset (path relative to the demo group) that contributes dimensions to a vector feature."""

    key: str
    names: tuple[str, ...] | None = None
    so101_joints: bool = False  # (T, 6) SO-101 joint radians, converted to the mapping's unit mode

    @property
    def short_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    def dim_names(self, size: int) -> list[str]:
        if self.names is not None:
            return list(self.names)
        if self.so101_joints:
            return [f"{j}.pos" for j in JOINT_NAMES]
        return [self.short_name] if size == 1 else [f"{self.short_name}.{i}" for i in range(size)]


@dataclass(frozen=True)
class Camera:
    name: str  # feature observation.images.<name>
    key: str

    @property
    def feature(self) -> str:
        return f"observation.images.{self.name}"


@dataclass(frozen=True)
class Finger:
    name: str
    key: str  # (T, 3) net force, or (T, R, C, 3) taxel grid


@dataclass(frozen=True)
class Tactile:
    fingers: tuple[Finger, ...]
    grid_shape: tuple[int, int] = DEFAULT_GRID_SHAPE
    sigma: float = DEFAULT_SIGMA
    optional: bool = False  # absent from the file -> no tactile features (instead of an error)
    grid_feature: str = "observation.tactile.force_grid"
    force_feature: str = "observation.tactile.force"


@dataclass(frozen=True)
class Mapping:
    name: str
    vectors: dict[str, tuple[Term, ...]]  # feature name -> terms concatenated in order
    cameras: tuple[Camera, ...] = ()
    tactile: Tactile | None = None
    fps: int | None = None  # None: the mapping declares no rate (the file's env_args or --fps must)
    robot_type: str | None = None
    units: str = "lerobot"
    task: str | None = None
    source: str = "<built-in>"
    extra: dict[str, Any] = field(default_factory=dict)

    def keys(self) -> list[str]:
        """Every HDF5 key the mapping reads (relative to a demo group)."""
        out = [t.key for terms in self.vectors.values() for t in terms]
        out += [c.key for c in self.cameras]
        if self.tactile:
            out += [f.key for f in self.tactile.fingers]
        return out


def _fail(source: str, msg: str) -> ConversionError:
    return ConversionError(f"mapping {source}: {msg}")


def _terms(source: str, feature: str, raw: Any) -> tuple[Term, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(source, f"'{feature}' must be a non-empty list of terms, got {raw!r}")
    terms = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            item = {"key": item}
        if not isinstance(item, dict) or "key" not in item:
            raise _fail(source, f"'{feature}'[{i}] must be a key string or a mapping with 'key', got {item!r}")
        unknown = set(item) - {"key", "names", "so101_joints"}
        if unknown:
            raise _fail(source, f"'{feature}'[{i}] has unknown fields {sorted(unknown)}")
        names = item.get("names")
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            raise _fail(source, f"'{feature}'[{i}].names must be a list of strings")
        terms.append(
            Term(str(item["key"]), tuple(names) if names is not None else None, bool(item.get("so101_joints", False)))
        )
    return tuple(terms)


def parse_mapping(raw: dict[str, Any], source: str = "<dict>") -> Mapping:
    """Validate a mapping given as a dict (the parsed YAML)."""
    if not isinstance(raw, dict):
        raise _fail(source, "must be a YAML mapping at top level")
    known = {"name", "fps", "robot_type", "units", "task", "state", "action", "vectors", "cameras", "tactile"}
    unknown = set(raw) - known
    if unknown:
        raise _fail(source, f"unknown top-level fields {sorted(unknown)} (known: {sorted(known)})")
    if "state" not in raw or "action" not in raw:
        raise _fail(source, "needs both 'state' and 'action'")
    vectors = {
        "observation.state": _terms(source, "state", raw["state"]),
        "action": _terms(source, "action", raw["action"]),
    }
    for feat, terms in (raw.get("vectors") or {}).items():
        if feat in vectors or "/" in feat or "image" in feat:
            raise _fail(source, f"vectors: bad feature name '{feat}' (taken, contains '/' or 'image')")
        vectors[str(feat)] = _terms(source, feat, terms)

    cams_raw = raw.get("cameras") or {}
    if not isinstance(cams_raw, dict):
        raise _fail(source, "'cameras' must map camera names to HDF5 keys, e.g. {camera1: obs/rgb_table}")
    cameras = tuple(Camera(str(name), str(key)) for name, key in cams_raw.items())

    tactile = None
    if raw.get("tactile"):
        t = raw["tactile"]
        if not isinstance(t, dict) or not isinstance(t.get("fingers"), dict) or not t["fingers"]:
            raise _fail(source, "'tactile' needs 'fingers': {finger_name: hdf5_key, ...}")
        unknown = set(t) - {"fingers", "grid_shape", "sigma", "optional", "grid_feature", "force_feature"}
        if unknown:
            raise _fail(source, f"'tactile' has unknown fields {sorted(unknown)}")
        grid_shape = tuple(int(v) for v in t.get("grid_shape", DEFAULT_GRID_SHAPE))
        if len(grid_shape) != 2 or min(grid_shape) < 1:
            raise _fail(source, f"tactile.grid_shape must be [rows, cols], got {t.get('grid_shape')!r}")
        tactile = Tactile(
            fingers=tuple(Finger(str(n), str(k)) for n, k in t["fingers"].items()),
            grid_shape=grid_shape,  # type: ignore[arg-type]
            sigma=float(t.get("sigma", DEFAULT_SIGMA)),
            optional=bool(t.get("optional", False)),
            grid_feature=str(t.get("grid_feature", "observation.tactile.force_grid")),
            force_feature=str(t.get("force_feature", "observation.tactile.force")),
        )

    units = str(raw.get("units", "lerobot"))
    if units not in UNIT_MODES:
        raise _fail(source, f"units must be one of {UNIT_MODES}, got {units!r}")
    fps = raw.get("fps")
    if fps is not None and (not isinstance(fps, int) or isinstance(fps, bool) or fps <= 0):
        raise _fail(source, f"fps must be a positive integer, got {fps!r}")
    return Mapping(
        name=str(raw.get("name", Path(source).stem)),
        vectors=vectors,
        cameras=cameras,
        tactile=tactile,
        fps=fps,
        robot_type=raw.get("robot_type"),
        units=units,
        task=raw.get("task"),
        source=source,
    )


def builtin_mappings() -> list[str]:
    return sorted(mapping_resources())


def load_mapping(name_or_path: str | Path | None = None) -> Mapping:
    """Load a mapping YAML by path, or by the stem of a shipped one (``franka_tactile``, ``so101``)."""
    spec = str(name_or_path or DEFAULT_MAPPING)
    path = Path(spec)
    if path.is_file():
        source, text = str(path), path.read_text()
    else:
        shipped = mapping_resources()
        if spec not in shipped:
            raise ConversionError(
                f"mapping '{spec}' is neither a file nor a shipped mapping ({', '.join(sorted(shipped)) or 'none found'}"
                " in the so101_sim.assets package data)"
            )
        source, text = str(shipped[spec]), shipped[spec].read_text()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConversionError(f"mapping {source}: not valid YAML: {exc}") from exc
    return parse_mapping(raw, source)
