"""``so101-sim record-hdf5``: scripted-expert demos in Isaac Lab's HDF5 recorder format (the SO-101 layout).

The file is what an Isaac Lab SO-101 task recorded with ``HDF5DatasetFileHandler`` looks like, so the same
converter path serves both simulators::

    so101-sim record-hdf5 --task Lift-v0 --episodes 10 --output demos.hdf5
    python converters/hdf5_to_lerobot.py --input demos.hdf5 --mapping so101 --output-dir DIR --repo-id NAME

Layout (per ``data/demo_<i>``, everything in radians like Isaac Lab): ``obs/joint_pos`` (T, 6),
``obs/front`` (T, H, W, 3) uint8 from the sim's ``camera1``, ``obs/wrist`` from ``camera2`` (the wrist camera),
with ``--tactile`` also ``obs/tactile_left`` / ``obs/tactile_right`` (T, R, C, 3) simulated pad forces, and
``actions`` (T, 6) absolute joint targets. ``env_args`` holds ``env_name``, ``fps`` and the ``task`` text.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from so101_sim.cameras import RECORDED_CAMERA_NAMES

NAME = "record-hdf5"
HELP = "Record scripted-expert demos of a MuJoCo task into an Isaac Lab-format HDF5 file (SO-101 layout)."

CAMERA_TERMS = RECORDED_CAMERA_NAMES


@dataclass
class RecordHDF5Options:
    task: str = "Lift-v0"
    episodes: int = 10
    output: Path = Path("demos.hdf5")
    seed: int = 0
    image_size: int = 256
    tactile: bool = False
    keep_failures: bool = False
    max_attempts_factor: int = 3
    episode_length: int | None = None
    overwrite: bool = False
    progress: bool = True


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="Lift-v0", help="MuJoCo task (so101_sim/<task>)")
    p.add_argument("--episodes", type=int, default=10, help="demos to record (successful ones, unless --keep-failures)")
    p.add_argument("--output", type=Path, required=True, help="the .hdf5 file to write")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode (episode i uses seed + attempt)")
    p.add_argument("--image-size", type=int, default=256, help="camera frames are SIZE x SIZE")
    p.add_argument("--tactile", action="store_true", help="also record the simulated tactile pad grids")
    p.add_argument("--keep-failures", action="store_true", help="keep failed episodes (attrs success=False)")
    p.add_argument("--episode-length", type=int, default=None, help="cap on steps per episode (default: task's)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def record_hdf5(opts: RecordHDF5Options) -> dict:
    """Roll the scripted expert out and stream every step into the writer; returns a small summary."""
    import gymnasium as gym
    from tqdm import tqdm

    import so101_sim  # noqa: F401  (registers the gymnasium ids)
    from so101_sim.isaaclab_hdf5 import IsaacLabHDF5Writer
    from so101_sim.mujoco.expert import ScriptedExpert
    from so101_sim.rollout import record_expert_demos

    env_id = f"so101_sim/{opts.task}"
    env = gym.make(
        env_id,
        cameras=tuple(CAMERA_TERMS),
        image_size=opts.image_size,
        units="radians",
        tactile=opts.tactile,
        episode_length=opts.episode_length,
    )
    base = env.unwrapped
    expert = ScriptedExpert(opts.task, units="radians", seed=opts.seed)
    summary = {"episodes": 0, "attempts": 0, "frames": 0, "successes": 0, "output": str(opts.output)}
    env_args = {
        "fps": int(base.metadata["render_fps"]),
        "task": base.task_description,
        "units": "radians",
        "cameras": CAMERA_TERMS,
    }
    try:
        with IsaacLabHDF5Writer(opts.output, env_name=env_id, env_args=env_args, overwrite=opts.overwrite) as w:
            bar = tqdm(total=opts.episodes, unit="demo", desc=f"record {opts.task}", disable=not opts.progress)

            def end(keep: bool, success: bool) -> None:
                w.end_demo(success=success) if keep else w.discard_demo()

            counts = record_expert_demos(
                env, expert, opts.episodes, seed=opts.seed, keep_failures=opts.keep_failures,
                max_attempts_factor=opts.max_attempts_factor, progress=lambda: bar.update(1),
                on_begin=lambda seed: w.begin_demo(seed=seed),
                on_step=lambda obs, action: w.add_step(_obs_terms(obs), action), on_end=end,
            )  # fmt: skip
            summary.update(episodes=counts.episodes, attempts=counts.attempts, frames=counts.frames,
                           successes=counts.successes)  # fmt: skip
            bar.close()
    finally:
        env.close()
    return summary


def _obs_terms(obs: dict) -> dict[str, np.ndarray]:
    terms = {"joint_pos": np.asarray(obs["agent_pos"], dtype=np.float32)}
    for cam, term in CAMERA_TERMS.items():
        terms[term] = obs["pixels"][cam]
    if "tactile" in obs:
        terms["tactile_left"] = np.asarray(obs["tactile"][0], dtype=np.float32)
        terms["tactile_right"] = np.asarray(obs["tactile"][1], dtype=np.float32)
    return terms


def run(args: argparse.Namespace) -> int:
    summary = record_hdf5(RecordHDF5Options(
        task=args.task, episodes=args.episodes, output=args.output, seed=args.seed, image_size=args.image_size,
        tactile=args.tactile, keep_failures=args.keep_failures, episode_length=args.episode_length,
        overwrite=args.overwrite,
    ))  # fmt: skip
    print(
        f"wrote {summary['episodes']} demos ({summary['frames']} frames, {summary['successes']} successful, "
        f"{summary['attempts']} attempts) to {summary['output']}"
    )
    return 0
