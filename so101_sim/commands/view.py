"""``so101-sim view``: a task's scene in MuJoCo's interactive viewer, no policy; Backspace re-places the cube.

Shares :func:`run_viewer` with ``so101-sim hold``. The viewer needs a display: on a machine without one the
command says so and exits with status 2 instead of failing inside GLFW.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import numpy as np

from so101_sim.mujoco.rendering import RENDER_PRESETS

NAME = "view"
HELP = "Show a task's scene in MuJoCo's viewer (no policy); Backspace: new scene. Needs a display."
RESET_KEYCODE = 259  # GLFW_KEY_BACKSPACE: MuJoCo's viewer resets on it too; we then re-sample the task's layout


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="Lift-v0", help="Reach-v0, Lift-v0, LiftFixed-v0 or PickPlace-v0")
    p.add_argument("--seed", type=int, default=0, help="the n-th reset uses seed + n")
    p.add_argument("--render-preset", default="pretty", choices=list(RENDER_PRESETS))


def headless_reason() -> str | None:
    """Why no window can open here (None when a display looks available)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY and WAYLAND_DISPLAY are unset)"
    return None


def headless_message(command: str, reason: str) -> str:
    return (
        f"so101-sim {command} opens MuJoCo's interactive viewer, which needs a screen: {reason}. Run it in a "
        "desktop session (or over ssh -X); on macOS run it with mjpython. Headless alternatives: "
        "so101-sim rollout --video out.mp4 (a video), so101-sim hold --no-viewer (the hold check)."
    )


def run_viewer(env, hold_action: np.ndarray, seed: int, seconds: float | None, window: bool) -> dict[str, float]:
    """Step ``env`` holding ``hold_action`` at real time in the viewer (or as fast as possible without one).

    Returns the largest joint error seen (robot units) and the simulated seconds run.
    """
    state = {"resets": 0, "reset_pending": False}
    max_err = np.zeros(6)

    def on_key(keycode: int) -> None:  # viewer thread
        if keycode == RESET_KEYCODE:
            state["reset_pending"] = True

    viewer = None
    if window:
        import mujoco.viewer

        base = env.unwrapped
        viewer = mujoco.viewer.launch_passive(base.model, base.data, key_callback=on_key)
    sim_t, dt = 0.0, env.unwrapped.control_dt
    start = time.perf_counter()
    try:
        while (seconds is None or sim_t < seconds) and (viewer is None or viewer.is_running()):
            with viewer.lock() if viewer is not None else contextlib.nullcontext():  # the viewer reads the data
                if state["reset_pending"]:
                    state["resets"] += 1
                    state["reset_pending"] = False
                    env.reset(seed=seed + state["resets"])
                obs, *_ = env.step(hold_action)
            max_err = np.maximum(max_err, np.abs(obs["agent_pos"] - hold_action))
            sim_t += dt
            if viewer is not None:
                viewer.sync()
                lag = sim_t - (time.perf_counter() - start)
                if lag > 0:
                    time.sleep(lag)
    finally:
        if viewer is not None:
            viewer.close()
    return {"max_joint_error": float(max_err.max()), "per_joint": max_err.tolist(), "sim_seconds": sim_t}


def run(args: argparse.Namespace) -> int:
    reason = headless_reason()
    if reason:
        print(headless_message(NAME, reason), file=sys.stderr)
        return 2
    import gymnasium as gym

    import so101_sim  # noqa: F401 - registers the ids

    env = gym.make(f"so101_sim/{args.task}", cameras=(), render_preset=args.render_preset, episode_length=10**9)
    obs, _ = env.reset(seed=args.seed)
    print(f"{args.task}: Backspace = new scene, close the window to quit.", file=sys.stderr)
    run_viewer(env, obs["agent_pos"].copy(), args.seed, seconds=None, window=True)
    env.close()
    return 0
