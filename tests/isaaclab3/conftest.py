"""Tests of the real Isaac Lab 3.0 backend, kit-less on warp's CPU device (``.ci/legs/40-isaaclab3.sh``).

They run only in the Isaac Lab 3.0 Python (``/opt/venv-isaac``: Python >= 3.12, ``isaaclab==3.0.0``, Newton,
MuJoCo Warp), never in the LeRobot 0.4.4 Python of leg 10, which cannot install Isaac Lab 3.0 (torch and
transformers pins). That Python does not collect this folder at all (no test is skipped); leg 40 runs it alone,
where an empty collection (pytest's exit code 5) fails the leg.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("isaaclab_newton") is None and not os.environ.get("SO101_REQUIRE_ISAACLAB3"):
    collect_ignore_glob = ["test_*.py"]  # another Python: leg 40 is where these run (see the docstring)

# The Isaac Lab 3.0 Python sees the checkout through the path, not an install (its pins differ from the project's).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
_shared_menagerie = REPO.parent / "shared" / "menagerie"
if "MENAGERIE_ROOT" not in os.environ and _shared_menagerie.is_dir():
    os.environ["MENAGERIE_ROOT"] = str(_shared_menagerie)
