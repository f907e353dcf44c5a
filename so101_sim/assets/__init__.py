"""Data files shipped inside the package (and the wheel): the MuJoCo tabletop scene and the converter mappings.

They are read through :mod:`importlib.resources`, never by walking up from ``__file__``, so an installed wheel
works exactly like this checkout. The top-level ``mujoco_model/`` and ``converters/mappings/`` of the repository
are symbolic links to these files (the design card's names), kept so that paths in docs and habits still work.

``SO101_SCENE_XML`` (a path) replaces the shipped scene, e.g. to try a different table or lighting.
"""

from __future__ import annotations

import os
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

SCENE_FILE = "so101_tabletop.xml"
MAPPINGS = "mappings"


def _root() -> Traversable:
    return files(__name__)


def scene_xml_text() -> tuple[str, str]:
    """(source, XML text) of the tabletop scene: ``$SO101_SCENE_XML`` if set, else the shipped file.

    The scene references no other file (no meshes, no textures), so its text is all MuJoCo needs.
    """
    override = os.environ.get("SO101_SCENE_XML")
    if override:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"SO101_SCENE_XML={override}: no such file (unset it to use the shipped scene)")
        return str(path), path.read_text()
    resource = _root() / SCENE_FILE
    return str(resource), resource.read_text()


def mapping_resources() -> dict[str, Traversable]:
    """The shipped converter mappings by stem (``so101``, ``franka_tactile``)."""
    folder = _root() / MAPPINGS
    return {entry.name[: -len(".yaml")]: entry for entry in folder.iterdir() if entry.name.endswith(".yaml")}
