"""Test-wide settings: offline robot meshes, offline Hugging Face, headless GL."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_shared_menagerie = REPO.parent / "shared" / "menagerie"
if "MENAGERIE_ROOT" not in os.environ and _shared_menagerie.is_dir():
    os.environ["MENAGERIE_ROOT"] = str(_shared_menagerie)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
