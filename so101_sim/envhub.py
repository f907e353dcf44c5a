"""What the root ``env.py`` (EnvHub) calls: options from any config object -> ``{suite: {task: VectorEnv}}``."""

from __future__ import annotations

from typing import Any

from so101_sim.cameras import CAMERAS
from so101_sim.env_lerobot import make_vector_env
from so101_sim.mujoco.rendering import camera_sizes

OPTION_NAMES = (
    "cameras", "image_size", "camera_sizes", "units", "control_mode", "ee_orientation", "episode_length",
    "tactile", "tactile_grid", "environment_state", "instruction", "render_preset", "render_camera",
    "device", "launch_app", "headless",
)  # fmt: skip
ISAAC_ONLY = ("device", "launch_app", "headless")
DEFAULTS: dict[str, Any] = {"task": "Lift-v0", "backend": "mujoco"}


def _read(cfg: Any, name: str, default: Any = None) -> Any:
    if cfg is None:
        return default
    if isinstance(cfg, dict):
        return cfg.get(name, default)
    value = getattr(cfg, name, default)
    options = getattr(cfg, "options", None)  # the generic hub type's free-form --env.options
    if value is None and isinstance(options, dict):
        value = options.get(name, default)
    return value


def _backend(cfg: Any) -> str:
    """``backend``; an Isaac task id without one means the Isaac backend (``make_env(task="Isaac-...")``)."""
    backend = _read(cfg, "backend")
    if backend is None and str(_read(cfg, "task") or "").startswith("Isaac-"):
        return "isaac"
    return backend or DEFAULTS["backend"]


def _isaac_cameras() -> tuple[str, ...]:
    from so101_sim.isaac import CAMERAS as ISAAC_CAMERAS

    return ISAAC_CAMERAS


def env_options(cfg: Any) -> dict[str, Any]:
    opts = {}
    for name in OPTION_NAMES:
        value = _read(cfg, name)
        if value is not None:
            opts[name] = value
    if "cameras" in opts:
        opts["cameras"] = tuple(opts["cameras"])
    sizes = opts.pop("camera_sizes", None) or {}
    size = int(opts.pop("image_size", 256))
    if "cameras" not in opts:  # each backend's own cameras (the Isaac tasks have no camera3)
        opts["cameras"] = _isaac_cameras() if _backend(cfg) == "isaac" else CAMERAS
    opts["image_size"] = camera_sizes(opts["cameras"], size, sizes)
    if "tactile_grid" in opts:
        opts["tactile_grid"] = tuple(int(x) for x in opts["tactile_grid"])
    if opts.get("environment_state") == "tactile":
        opts["tactile"] = True
    return opts


def _fill_features(cfg: Any, opts: dict[str, Any]) -> None:
    """Describe the envs on LeRobot's config so policies get matching input/output features."""
    if cfg is None or isinstance(cfg, dict) or not hasattr(cfg, "features"):
        return
    from so101_sim.lerobot.env_config import so101_features

    cfg.features, cfg.features_map = so101_features(
        list(opts["cameras"]),
        opts["image_size"],
        opts.get("control_mode", "joint"),
        bool(opts.get("ee_orientation", False)),
        opts.get("environment_state", "task"),
        tuple(opts.get("tactile_grid", (10, 12))),
        bool(opts.get("tactile", False)),
    )


ISAAC_OPTIONS = ("cameras", "image_size", "units", "episode_length", "instruction", "device", "launch_app", "headless")
# The MuJoCo task names' counterparts in the Isaac Lab backend (its own ids pass through unchanged).
ISAAC_TASKS = {
    "Reach-v0": "Isaac-SO-ARM101-Reach-v0",
    "Lift-v0": "Isaac-SO-ARM101-Lift-Cube-v0",
    "LiftFixed-v0": "Isaac-SO-ARM101-Lift-Cube-Fixed-v0",
}


def isaac_task(task: str) -> str:
    if task.startswith("Isaac-"):
        return task
    if task not in ISAAC_TASKS:
        raise ValueError(
            f"task {task!r} has no Isaac Lab counterpart; use one of {sorted(ISAAC_TASKS)} or an Isaac-SO-ARM id"
        )
    return ISAAC_TASKS[task]


def make_envs(n_envs: int, use_async_envs: bool, cfg: Any, suite: str = "so101") -> dict[str, dict[str, Any]]:
    backend = _backend(cfg)
    task = _read(cfg, "task") or DEFAULTS["task"]
    opts = env_options(cfg)
    _fill_features(cfg, opts)
    if backend == "isaac":
        task = isaac_task(task)
        opts = {k: v for k, v in opts.items() if k in ISAAC_OPTIONS}
        sizes = set(opts["image_size"].values())
        if len(sizes) > 1:
            raise ValueError(f"the Isaac backend renders every camera at one size; got {opts['image_size']}")
        opts["image_size"] = sizes.pop() if sizes else (256, 256)
    else:
        opts = {k: v for k, v in opts.items() if k not in ISAAC_ONLY}
    vec = make_vector_env(task, n_envs, backend=backend, use_async=use_async_envs, **opts)
    return {suite: {task: vec}}
