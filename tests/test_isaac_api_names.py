"""The contract stand-in (tests/isaac_standin) mimics exactly the Isaac Lab 2.3 names the backend uses
(``so101_sim.isaac.isaaclab_api.NAMES``). The names themselves are checked against the 2.3 and 3.0 sources in
``tests/isaaclab3/test_isaac_source_names.py`` (leg 40, which fetches the 2.3 source as an install step: no
download during tests)."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest

from so101_sim.isaac.isaaclab_api import NAMES

TESTS = Path(__file__).resolve().parent


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
    assert urdf.is_file(), f"SO-101 URDF not found at {urdf} (../shared/assets, or set SO101_URDF)"
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
