"""EnvHub entry point of the SO-101 simulation: ``make_env(n_envs, use_async_envs, cfg)``.

LeRobot downloads only this file from the Hub (``lerobot.envs.factory.make_env("user/repo",
trust_remote_code=True)``, or ``lerobot-eval --env.type=hub --env.repo=user/repo --trust_remote_code=true``
with the ``hub`` env type of this project). Everything else comes from the ``so101-sim`` package, which this
file imports; if it is missing, the error says how to install it, or this file installs it itself when
``SO101_SIM_AUTO_INSTALL=1`` (pip spec from ``SO101_SIM_PIP_SPEC``, default ``so101-sim``).

``cfg`` may be None, a dict, or any object with attributes (LeRobot passes its env config): ``task``
(Lift-v0), ``backend`` (mujoco | isaac), ``cameras``, ``image_size``, ``units``, ``control_mode``,
``episode_length``, ``tactile``, ``environment_state``, ``instruction``, ``render_preset``. Returns
``{"so101": {task: VectorEnv}}``. When ``cfg`` carries ``features``/``features_map`` (LeRobot's env configs
do), they are filled in to describe what the envs produce, so policies are built with matching shapes.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from typing import Any

SUITE = "so101"
INSTALL_HELP = (
    "The SO-101 EnvHub env needs the so101-sim package: pip install {spec} "
    "(or set SO101_SIM_AUTO_INSTALL=1 to let env.py install it)."
)


def _import_package():
    try:
        return importlib.import_module("so101_sim.envhub")
    except ImportError as exc:
        spec = os.environ.get("SO101_SIM_PIP_SPEC", "so101-sim")
        if os.environ.get("SO101_SIM_AUTO_INSTALL") != "1":
            raise ImportError(INSTALL_HELP.format(spec=spec)) from exc
        subprocess.check_call([sys.executable, "-m", "pip", "install", spec])
        importlib.invalidate_caches()
        return importlib.import_module("so101_sim.envhub")


def make_env(n_envs: int = 1, use_async_envs: bool = False, cfg: Any = None, **options: Any) -> dict[str, dict[str, Any]]:
    """``options`` (``task=``, ``backend=``, ``cameras=``...) are the ``cfg`` keys given as keywords, as in the
    seed's ``make_env(n_envs=2, task="Isaac-SO-ARM101-Lift-Cube-v0")`` (an Isaac id selects the Isaac backend)."""
    if options:
        if cfg is not None and not isinstance(cfg, dict):
            raise TypeError(f"make_env: pass options either in cfg or as keywords, not both (got {sorted(options)})")
        cfg = {**(cfg or {}), **options}
    return _import_package().make_envs(n_envs=n_envs, use_async_envs=use_async_envs, cfg=cfg, suite=SUITE)
