"""Run stock lerobot console scripts as a user would (subprocess, offline, headless)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def script(name: str) -> str:
    """Path of a console script installed beside this Python (lerobot-eval, lerobot-train, ...)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def run_cli(name: str, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 600):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run(
        [script(name), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc
