"""``so101-sim record-demos``: scripted-expert demonstrations into a LeRobot v3 dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from so101_sim.cameras import CAMERAS

NAME = "record-demos"
HELP = "Record scripted-expert demonstrations of a MuJoCo task into a LeRobot v3 dataset (headless)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="Lift-v0")
    p.add_argument("--episodes", type=int, default=10, help="successful episodes to record")
    p.add_argument("--repo-id", required=True, help="dataset name, e.g. local/so101_lift")
    p.add_argument("--root", required=True, type=Path, help="output directory (must not exist unless --overwrite)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cameras", nargs="+", default=list(CAMERAS))
    p.add_argument(
        "--state-only", action="store_true",
        help="no cameras: observation.state + observation.environment_state only (fast; for flow_mlp / RL)",
    )  # fmt: skip
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--images", action="store_true", help="store PNG frames instead of video")
    p.add_argument("--vcodec", default="libsvtav1", help="libsvtav1 (lerobot default), h264, hevc")
    p.add_argument("--env-state", action="store_true", help="also store observation.environment_state")
    p.add_argument("--tactile", action="store_true", help="also store observation.tactile.force_grid")
    p.add_argument("--keep-failures", action="store_true", help="keep episodes the expert failed")
    p.add_argument("--units", default="lerobot", choices=["lerobot", "lerobot_range", "radians"])
    p.add_argument("--overwrite", action="store_true")


def run(args: argparse.Namespace) -> int:
    from so101_sim.record_demos import RecordOptions, record_demos

    report = record_demos(
        RecordOptions(
            task=args.task, episodes=args.episodes, repo_id=args.repo_id, root=args.root, seed=args.seed,
            cameras=() if args.state_only else tuple(args.cameras), image_size=args.image_size,
            use_videos=not (args.images or args.state_only), vcodec=args.vcodec,
            env_state=args.env_state or args.state_only, tactile=args.tactile,
            keep_failures=args.keep_failures, units=args.units, overwrite=args.overwrite,
        )  # fmt: skip
    )
    print(f"wrote {report.episodes} episodes ({report.frames} frames, {report.attempts} attempts) to {report.root}")
    print(json.dumps({"episodes": report.episodes, "frames": report.frames,
                      "frames_per_second": round(report.frames_per_second, 1), "root": str(report.root)}))
    return 0
