"""RLinf extension module: ``RLINF_EXT_MODULE=so101_sim.rlinf.ext``.

RLinf imports this module in every Ray worker and calls :func:`register` (``Worker._load_user_extensions``); the
driver does not, so ``so101-sim rlinf train`` calls it itself before ``validate_cfg``. It registers, without
modifying RLinf:

- every SO-101 task id (:func:`so101_sim.rlinf.tasks.task_ids`) into ``rlinf.envs.isaaclab.REGISTER_ISAACLAB_ENVS``
  (the one open env registry; used with ``env_type: isaaclab``), all served by :class:`~.env.SO101RLinfEnv`;
- the model type ``so101_flow_noise`` (``rlinf.models.register_model``): flow_mlp / SmolVLA with ReinFlow noise;
- when ``RLINF_CONFIG_FILE`` names a config whose ``env.train.isaaclab.obs_converter_type`` is not yet known to
  RLinf's GR00T converters, our SO-101 observation/action converters built from its ``gr00t_mapping`` /
  ``action_mapping`` (the same keys as Isaac Lab's integration), in ``OBS_CONVERSION`` and every
  ``ACTION_CONVERSION_N1D*`` table of ``rlinf.models.embodiment.gr00t.simulation_io``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)
_registered = False


def register() -> None:
    """Idempotent: safe to call from the launcher and again in each worker."""
    global _registered
    if _registered:
        return
    from rlinf.envs.isaaclab import REGISTER_ISAACLAB_ENVS
    from rlinf.models import register_model

    from so101_sim.rlinf.env import SO101RLinfEnv
    from so101_sim.rlinf.policy import MODEL_TYPE, build
    from so101_sim.rlinf.tasks import task_ids

    for task_id in task_ids():
        REGISTER_ISAACLAB_ENVS[task_id] = SO101RLinfEnv
    register_model(MODEL_TYPE, build, category="embodied", force=True)
    cfg_file = os.environ.get("RLINF_CONFIG_FILE", "")
    if cfg_file:
        register_gr00t_converters(load_isaaclab_block(cfg_file))
    _registered = True


def load_isaaclab_block(cfg_file: str) -> dict[str, Any]:
    """``env.train.isaaclab`` of a (composed) YAML config, {} when absent."""
    import yaml

    with open(cfg_file) as f:
        full = yaml.safe_load(f) or {}
    return ((full.get("env") or {}).get("train") or {}).get("isaaclab") or {}


def register_gr00t_converters(block: dict[str, Any]) -> bool:
    """Add our GR00T obs/action converters under ``obs_converter_type``; False when RLinf's GR00T is unavailable."""
    from so101_sim.rlinf.mapping import ObsMapping

    if not block:
        return False
    mapping = ObsMapping.from_cfg(block)
    try:
        from rlinf.models.embodiment.gr00t import simulation_io
    except ImportError as exc:  # RLinf's GR00T needs the gr00t package
        log.info("GR00T converters not registered (%s)", exc)
        return False
    key = mapping.obs_converter_type
    simulation_io.OBS_CONVERSION.setdefault(key, mapping.to_gr00t)
    # RLinf 0.3.0 keeps one action table per GR00T version (N1.5, N1.6, N1.7); fill every one it has.
    tables = [v for k, v in vars(simulation_io).items() if k.startswith("ACTION_CONVERSION") and isinstance(v, dict)]
    if not tables:
        raise RuntimeError("rlinf.models.embodiment.gr00t.simulation_io has no ACTION_CONVERSION* table")
    for table in tables:
        table.setdefault(key, mapping.from_gr00t_action)
    return True
