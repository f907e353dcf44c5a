"""``so101-sim rollout``: run the scripted expert (or a LeRobot policy) in a MuJoCo task, headless."""

from __future__ import annotations

import argparse
import sys

from so101_sim.mujoco.rendering import RENDER_PRESETS

NAME = "rollout"
HELP = "Roll out the scripted expert in a MuJoCo task; prints a table and one JSON line with the success rate."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="Lift-v0", help="Reach-v0, Lift-v0, LiftFixed-v0 or PickPlace-v0")
    p.add_argument("--policy", default="expert", choices=["expert"], help="the policy to run (expert)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="episode i uses seed + i")
    p.add_argument("--video", default=None, help="write an mp4 of the first --video-episodes episodes here")
    p.add_argument("--video-episodes", type=int, default=3)
    p.add_argument("--image-size", type=int, default=256, help="camera resolution for the video")
    p.add_argument("--cube-pose-noise", type=float, nargs=2, default=(0.0, 0.0), metavar=("METRES", "DEGREES"),
                   help="error on the cube pose the expert sees (once per episode)")
    p.add_argument("--render-preset", default="fast", choices=list(RENDER_PRESETS))


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    from tqdm import tqdm

    import so101_sim  # noqa: F401 - registers the ids
    from so101_sim.cameras import CAMERAS
    from so101_sim.mujoco.expert import ScriptedExpert
    from so101_sim.rollout import json_line, run_episodes

    cameras = CAMERAS if args.video else ()
    env = gym.make(f"so101_sim/{args.task}", cameras=cameras, image_size=args.image_size,
                   render_preset=args.render_preset)
    expert = ScriptedExpert(args.task, cube_pose_noise=tuple(args.cube_pose_noise), seed=args.seed)
    bar = tqdm(total=args.episodes, desc=f"{args.task}", unit="ep", file=sys.stderr)

    def progress(row):
        bar.update(1)
        bar.set_postfix(success=row["success"])

    result = run_episodes(env, expert, args.episodes, seed=args.seed, video=args.video,
                          video_episodes=args.video_episodes, progress=progress)
    bar.close()
    env.close()
    print(result.table())
    if args.video:
        print(f"video: {args.video}")
    print(json_line(result, task=args.task, policy=args.policy))
    return 0
