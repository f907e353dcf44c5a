"""Every Isaac Lab name the backend uses, checked in the source of both lines, without a download in the test.

- 3.0: the installed ``isaaclab==3.0.0`` wheel (this leg's Python), ``NAMES_30``;
- 2.3: the ``isaaclab==2.3.*`` wheel's source fetched by ``.ci/legs/40-isaaclab3.sh`` as an install step
  (``ISAACLAB23_SOURCE``, or a checkout's ``source/`` folder), ``NAMES_23``. 2.3 imports Isaac Sim, so names are
  resolved with ``ast`` (``so101_sim.isaac.source_check``). A missing source fails: it is never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from so101_sim.isaac.isaaclab_api import NAMES_23, NAMES_30, ApiName
from so101_sim.isaac.source_check import SourceTree, check_names


def _site_packages() -> Path:
    import isaaclab

    return Path(isaaclab.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def source_23() -> SourceTree:
    path = os.environ.get("ISAACLAB23_SOURCE")
    assert path, ("ISAACLAB23_SOURCE is not set: run .ci/legs/40-isaaclab3.sh (it fetches the isaaclab 2.3 wheel "
                  "as an install step) or point it at IsaacLab's source/ folder")
    return SourceTree.from_source_dir(Path(path))


def test_every_name_exists_in_isaaclab_3_0():
    problems = check_names(SourceTree.from_site_packages(_site_packages()), NAMES_30)
    assert problems == [], "\n".join(problems)


def test_every_name_exists_in_isaaclab_2_3(source_23):
    problems = check_names(source_23, NAMES_23)
    assert problems == [], "\n".join(problems)


def test_3_0_renamed_what_the_2_3_table_uses():
    """Why there are two tables: 2.3's names the backend needs are gone from 3.0's source (image -> image_rgb)."""
    tree = SourceTree.from_site_packages(_site_packages())
    assert check_names(tree, {"image": NAMES_23["mdp_image"]}) == ["image (isaaclab.envs.mdp.image): not found"]
    assert check_names(tree, {"mdp_image": NAMES_30["mdp_image"]}) == []


def test_the_checker_catches_wrong_names(source_23):
    """A misspelt member, a missing parameter and an unknown class are reported (the check can fail)."""
    bad = {
        "a": ApiName("isaaclab.assets", "ArticulationData", "class", ("body_pos_world",)),
        "b": ApiName("isaaclab.envs.mdp", "image", "function", params={"": ("env", "sensor")}),
        "c": ApiName("isaaclab.envs", "ManagerBasedRLEnvV2", "class"),
        "d": ApiName("isaaclab.sim", "UrdfFileCfg", "cfg", ("asset_path", "fix_root")),
    }
    problems = check_names(source_23, bad)
    assert len(problems) == 4, problems
    assert "body_pos_world" in problems[0] and "sensor" in problems[1] and "not found" in problems[2]
    assert "fix_root" in problems[3] and "asset_path" not in problems[3]
