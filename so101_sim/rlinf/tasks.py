"""RLinf task ids of the SO-101 sim: ``SO101-<Task>-<Backend>-v0`` for every task of :mod:`so101_sim.tasks`.

``SO101-Lift-MuJoCo-v0`` runs the MuJoCo backend in the env worker's process; ``SO101-Lift-Isaac-v0`` the Isaac
Lab backend (:func:`so101_sim.env_lerobot.make_vector_env` with ``backend="isaac"``), through the same env class.
"""

from __future__ import annotations

from so101_sim.tasks import TASKS

BACKEND_NAMES = {"MuJoCo": "mujoco", "Isaac": "isaac"}


def task_ids() -> dict[str, tuple[str, str]]:
    """``{rlinf task id: (our task name, backend)}``, e.g. ``SO101-Lift-MuJoCo-v0 -> ("Lift-v0", "mujoco")``."""
    out = {}
    for name in TASKS:
        base = name.rsplit("-v", 1)[0]
        for label, backend in BACKEND_NAMES.items():
            out[f"SO101-{base}-{label}-v0"] = (name, backend)
    return out


def parse_task_id(task_id: str) -> tuple[str, str]:
    ids = task_ids()
    if task_id not in ids:
        raise ValueError(f"unknown SO-101 RLinf task id {task_id!r}; choose one of {sorted(ids)}")
    return ids[task_id]
