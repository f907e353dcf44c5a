"""``so101-sim hold``: command the home pose and hold it (servo gains and gravity check), in the viewer or headless.

Prints the largest deviation of each joint from the home pose over the run, in LeRobot units (degrees;
gripper 0-100), as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys

from so101_sim.commands.view import headless_message, headless_reason, run_viewer
from so101_sim.mujoco.rendering import RENDER_PRESETS

NAME = "hold"
HELP = "Hold the SO-101 home pose in MuJoCo's viewer (or --no-viewer --seconds N: headless) and report the drift."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="Lift-v0", help="the scene around the arm (Reach-v0, Lift-v0, ...)")
    p.add_argument("--seconds", type=float, default=None, help="simulated seconds to run (default: until closed)")
    p.add_argument("--no-viewer", action="store_true", help="run headless (needs --seconds) and only report")
    p.add_argument("--render-preset", default="pretty", choices=list(RENDER_PRESETS))


def run(args: argparse.Namespace) -> int:
    if args.no_viewer and args.seconds is None:
        print("so101-sim hold --no-viewer needs --seconds N (how long to hold)", file=sys.stderr)
        return 2
    reason = None if args.no_viewer else headless_reason()
    if reason:
        print(headless_message(NAME, reason), file=sys.stderr)
        return 2
    import gymnasium as gym

    import so101_sim  # noqa: F401 - registers the ids
    from so101_sim import adapters
    from so101_sim.mujoco.env import HOME_QPOS

    env = gym.make(f"so101_sim/{args.task}", cameras=(), render_preset=args.render_preset, episode_length=10**9)
    env.reset(seed=0)
    home = adapters.radians_to_units(HOME_QPOS, "lerobot").astype("float32")
    report = run_viewer(env, home, seed=0, seconds=args.seconds, window=not args.no_viewer)
    env.close()
    print(json.dumps({"task": args.task, "home": [round(float(v), 3) for v in home], **report}))
    return 0
