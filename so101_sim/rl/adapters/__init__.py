"""Policy adapters for the ReinFlow core (:mod:`so101_sim.rl.protocol`), chosen by the checkpoint's policy type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from so101_sim.rl.protocol import FlowPolicyAdapter


def policy_type(path: str | Path) -> str:
    """The ``type`` in a LeRobot checkpoint's ``config.json``."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        raise FileNotFoundError(f"{cfg} not found: --policy.path must be a LeRobot checkpoint directory (pretrained_model)")
    try:
        return str(json.loads(cfg.read_text())["type"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{cfg}: expected a JSON object with a 'type' key (the LeRobot policy type)") from exc


def load_adapter(path: str | Path, **kwargs: Any) -> FlowPolicyAdapter:
    """Build the adapter for the checkpoint at ``path`` (``flow_mlp``, ``smolvla``, ``smolvla_tactile``)."""
    kind = policy_type(path)
    if kind == "flow_mlp":
        from so101_sim.rl.adapters.flow_mlp import FlowMLPAdapter

        return FlowMLPAdapter.from_pretrained(path, **kwargs)
    if kind in ("smolvla", "smolvla_tactile"):
        from so101_sim.rl.adapters.smolvla import SmolVLAAdapter  # an import failure is a real bug: let it show

        return SmolVLAAdapter.from_pretrained(path, **kwargs)
    raise ValueError(f"{path}: policy type {kind!r} has no RL adapter; supported: flow_mlp, smolvla, smolvla_tactile")
