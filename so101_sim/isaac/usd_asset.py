"""The SO-101 as USD for Isaac Lab 3.0, converted once from the same Menagerie MJCF the MuJoCo backend uses.

One robot description for both backends: ``robotstudio_so101/so101.xml`` (``MENAGERIE_ROOT``, or the
``mujoco-menagerie`` package) is converted with ``mujoco-usd-converter`` (PyPI, needs ``mujoco~=3.16``, which
Newton's ``mujoco~=3.12`` pin excludes, so it lives in a Python of its own) and cached like the decimated render
meshes: ``$SO101_SIM_CACHE`` (default ``~/.cache/so101_sim``) ``/usd/<digest of the MJCF and its meshes>/so101.usdc``.

Where the converter lives: ``$SO101_USD_CONVERTER`` (the ``mujoco_usd_converter`` executable), else
``mujoco_usd_converter`` on ``PATH``, else ``/opt/venv-usdconv/bin/mujoco_usd_converter`` (what ``.ci/legs/
40-isaaclab3.sh`` and ``docs/isaac.md`` install). ``$SO101_USD`` names a ready USD file and skips all of this.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CONVERTER_ENV = "SO101_USD_CONVERTER"
USD_ENV = "SO101_USD"
DEFAULT_CONVERTER = Path("/opt/venv-usdconv/bin/mujoco_usd_converter")
CONVERTER_INSTALL = (
    "python3 -m venv /opt/venv-usdconv && /opt/venv-usdconv/bin/pip install --ignore-requires-python "
    "mujoco-usd-converter==0.8.0   (it declares Python < 3.13 and runs on 3.13)")


def menagerie_mjcf() -> Path:
    """Menagerie's ``so101.xml``: under ``MENAGERIE_ROOT`` when set, else from the ``mujoco-menagerie`` package."""
    root = os.environ.get("MENAGERIE_ROOT")
    if root:
        path = Path(root) / "robotstudio_so101" / "so101.xml"
    else:
        from so101_sim.mujoco.scene import menagerie_dir

        path = menagerie_dir() / "so101.xml"
    if not path.is_file():
        raise FileNotFoundError(f"Menagerie SO-101 MJCF not found at {path} (MENAGERIE_ROOT={root!r})")
    return path


def _digest(mjcf: Path) -> str:
    h = hashlib.sha256()
    for f in [mjcf, *sorted((mjcf.parent / "assets").glob("*"))]:
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("SO101_SIM_CACHE", Path.home() / ".cache" / "so101_sim")) / "usd"


def converter() -> str:
    """The ``mujoco_usd_converter`` executable, or a FileNotFoundError saying how to install it."""
    explicit = os.environ.get(CONVERTER_ENV)
    if explicit:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"{CONVERTER_ENV}={explicit!r}: no such file")
        return explicit
    found = shutil.which("mujoco_usd_converter")
    if found:
        return found
    if DEFAULT_CONVERTER.is_file():
        return str(DEFAULT_CONVERTER)
    raise FileNotFoundError(
        "the Isaac Lab 3.0 backend needs the SO-101 as USD, converted once from Menagerie's MJCF by "
        f"mujoco-usd-converter, which was not found ({CONVERTER_ENV} unset, not on PATH, not at "
        f"{DEFAULT_CONVERTER}). Install it in a Python of its own:\n  {CONVERTER_INSTALL}\n"
        f"or set {USD_ENV} to an already converted so101.usdc")


def so101_usd() -> Path:
    """Path of the SO-101 USD (converted on first use, then cached; never half-written)."""
    explicit = os.environ.get(USD_ENV)
    if explicit:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"{USD_ENV}={explicit!r}: no such USD file")
        return Path(explicit)
    mjcf = menagerie_mjcf()
    target = cache_dir() / _digest(mjcf) / "so101.usdc"
    if target.is_file():
        return target
    exe = converter()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        # --no-physics-scene: Isaac Lab authors its own physics scene; --no-layer-structure: one .usdc file.
        out = subprocess.run([exe, "--no-layer-structure", "--no-physics-scene", str(mjcf), tmp],
                             capture_output=True, text=True, check=False)
        produced = Path(tmp) / "so101.usdc"
        if out.returncode != 0 or not produced.is_file():
            raise RuntimeError(f"mujoco_usd_converter failed on {mjcf} (exit {out.returncode}):\n"
                               f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        os.replace(produced, target)
    return target
