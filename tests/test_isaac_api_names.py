"""The Isaac Lab names the backend uses (so101_sim.isaac.isaaclab_api.NAMES) against the isaaclab 2.3 source.

The wheel is downloaded from PyPI (``pip download --no-deps isaaclab==2.3.*``) once and cached in pytest's cache;
``ISAACLAB_SOURCE=/path/to/IsaacLab/source`` uses a checkout instead. The modules cannot be imported without Isaac
Sim, so every name, member and parameter is resolved in the source with ``ast``.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from so101_sim.isaac.isaaclab_api import NAMES, ApiName
from so101_sim.isaac.source_check import SourceTree, check_names

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def isaaclab_source(request) -> Path:
    if os.environ.get("ISAACLAB_SOURCE"):
        return Path(os.environ["ISAACLAB_SOURCE"])
    cache_provider = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    if cache_provider is not None:
        cache = Path(cache_provider.mkdir("isaaclab-2.3-wheel"))
    else:
        cache = request.getfixturevalue("tmp_path_factory").mktemp("isaaclab-2.3-wheel")
    source = cache / "unpacked" / "isaaclab" / "source"
    if not (source / "isaaclab").is_dir():
        wheels = list(cache.glob("isaaclab-2.3*.whl"))
        if not wheels:
            out = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
                 "3.11", "isaaclab==2.3.*", "-d", str(cache)],
                capture_output=True, text=True, timeout=300, check=False)
            wheels = list(cache.glob("isaaclab-2.3*.whl"))
            if not wheels:
                pytest.skip(f"could not download the isaaclab 2.3 wheel from PyPI: {out.stderr.strip()[-300:]}")
        with zipfile.ZipFile(max(wheels)) as zf:
            members = [m for m in zf.namelist() if m.startswith("isaaclab/source/") and m.endswith(".py")]
            zf.extractall(cache / "unpacked", members=members)
    return source


def test_every_name_member_and_parameter_exists_in_isaaclab_2_3(isaaclab_source):
    tree = SourceTree.from_source_dir(isaaclab_source)
    problems = check_names(tree, NAMES)
    assert problems == [], "\n".join(problems)


def test_the_checker_catches_wrong_names(isaaclab_source):
    """A misspelt member, a missing parameter and an unknown class are reported (the check can fail)."""
    tree = SourceTree.from_source_dir(isaaclab_source)
    bad = {
        "a": ApiName("isaaclab.assets", "ArticulationData", "class", ("body_pos_world",)),
        "b": ApiName("isaaclab.envs.mdp", "image", "function", params={"": ("env", "sensor")}),
        "c": ApiName("isaaclab.envs", "ManagerBasedRLEnvV2", "class"),
        "d": ApiName("isaaclab.sim", "UrdfFileCfg", "cfg", ("asset_path", "fix_root")),
    }
    problems = check_names(tree, bad)
    assert len(problems) == 4, problems
    assert "body_pos_world" in problems[0] and "sensor" in problems[1] and "not found" in problems[2]
    assert "fix_root" in problems[3] and "asset_path" not in problems[3]


# ---- the stand-in mimics exactly the list ----------------------------------------------------------------------
@pytest.fixture()
def standin(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    import isaac_standin

    return isaac_standin


def test_standin_exports_exactly_the_listed_aliases(standin):
    top = {a for a in NAMES if "." not in a}
    exported = {n for n in vars(standin) if not n.startswith("_")}
    runtime_only = {a for a, e in NAMES.items() if not e.imported}
    helpers = {"annotations", "copy", "math", "re", "ET", "Enum", "Any", "gym", "np", "torch", "NAMES"}
    assert top <= exported, f"stand-in lacks {sorted(top - exported)}"
    assert exported - helpers == top, f"stand-in has names not in NAMES: {sorted(exported - helpers - top)}"
    assert runtime_only <= top


def test_standin_config_classes_accept_exactly_the_listed_fields(standin):
    for alias, entry in NAMES.items():
        if entry.kind != "cfg":
            continue
        obj = standin
        for part in alias.split("."):
            obj = getattr(obj, part)
        nested = {m for m in entry.members if isinstance(getattr(obj, m, None), type)}
        assert set(obj._fields) == set(entry.members) - nested, alias
        with pytest.raises(TypeError, match="unexpected field"):
            obj(not_an_isaaclab_field=1)


def _public(obj) -> set[str]:
    import gymnasium as gym

    names = {n for n in dir(obj) if not n.startswith("_")}
    if isinstance(obj, gym.Env):  # ManagerBasedRLEnv is a gym.Env in Isaac Lab too
        names -= set(dir(gym.Env))
        names |= {n for n in ("reset", "step", "render", "close") if hasattr(obj, n)}
    return names


def test_standin_runtime_objects_expose_exactly_the_listed_members(standin, monkeypatch):
    """Build a task in the stand-in and compare each runtime object's public members with NAMES."""
    from so101_sim.isaac import isaaclab_api

    urdf = Path(os.environ.get("SO101_URDF", str(Path(__file__).resolve().parents[2] / "shared" / "assets") + "/so101/so101_new_calib.urdf"))
    if not urdf.is_file():
        pytest.skip(f"SO-101 URDF not found at {urdf}")
    monkeypatch.setenv(isaaclab_api.STANDIN_ENV, "isaac_standin")
    monkeypatch.setenv("SO101_URDF", str(urdf))
    isaaclab_api.clear_cache()
    try:
        import isaac_so_arm101

        cfg = isaac_so_arm101.make_task_cfg("Isaac-SO-ARM101-Reach-v0", num_envs=2, image_size=(8, 8))
        cfg.sim.device = "cpu"
        env = standin.ManagerBasedRLEnv(cfg=cfg)
        objects = {
            "ManagerBasedRLEnv": env, "InteractiveScene": env.scene, "Articulation": env.scene["robot"],
            "ArticulationData": env.scene["robot"].data, "RigidObject": env.scene["object"],
            "RigidObjectData": env.scene["object"].data, "TiledCamera": env.scene["front_camera"],
            "CameraData": env.scene["front_camera"].data, "TerminationManager": env.termination_manager,
            "CommandManager": env.command_manager, "ActionManager": env.action_manager,
        }
        for alias, obj in objects.items():
            listed = {m for m in NAMES[alias].members if not m.startswith("_")}
            assert _public(obj) == listed, f"{alias}: stand-in {sorted(_public(obj))} vs NAMES {sorted(listed)}"
            for method, params in NAMES[alias].params.items():
                if method:
                    sig = inspect.signature(getattr(obj, method))
                    assert set(params) <= set(sig.parameters), (alias, method)
        for alias, entry in NAMES.items():
            if entry.kind == "function":
                sig = inspect.signature(getattr(standin, alias))
                assert set(entry.params.get("", ())) <= set(sig.parameters), alias
    finally:
        isaaclab_api.clear_cache()
        from isaac_so_arm101 import env_cfg

        env_cfg._ENV_CFG_CLASS = None
