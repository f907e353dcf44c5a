"""record-demos throughput: frames/s of scripted demonstrations written with video encoding, against the
encoder-only bound measured in the same run (the same frames, already rendered, pushed through the same
LeRobotDataset streaming-encoder path), plus the simulate-and-render-only rate.

    python benchmarks/bench_record_demos.py [--quick] [--episodes 4] [--repeats 3] [--image-size 256]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path



def collect(task: str, episodes: int, opts) -> list[list[dict]]:
    """Episodes of frames (obs + action) from the expert, rendered once, kept in memory."""
    import gymnasium as gym

    import so101_sim  # noqa: F401
    from so101_sim.mujoco.expert import ScriptedExpert
    from so101_sim.record_demos import _frame
    from so101_sim.rollout import record_expert_demos

    env = gym.make(f"so101_sim/{task}", cameras=opts.cameras, image_size=opts.image_size)
    text = env.unwrapped.task_description
    out: list[list[dict]] = []
    record_expert_demos(
        env, ScriptedExpert(task), episodes, keep_failures=True,
        on_begin=lambda seed: out.append([]),
        on_step=lambda obs, action: out[-1].append(_frame(obs, action, opts, text)),
        on_end=lambda keep, success: None,
    )  # fmt: skip
    env.close()
    return out


def encode_only(episodes: list[list[dict]], opts, root: Path) -> float:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from so101_sim.convert.converter import wait_for_encoder
    from so101_sim.record_demos import dataset_features

    t0 = time.perf_counter()
    ds = LeRobotDataset.create(repo_id="bench/enc", fps=30, features=dataset_features(opts, None), root=root,
                               use_videos=True, streaming_encoding=True, vcodec=opts.vcodec, image_writer_threads=0)
    n = 0
    for frames in episodes:
        for f in frames:
            wait_for_encoder(ds, 28)
            ds.add_frame(dict(f))
            n += 1
        ds.save_episode()
    ds.finalize()
    return n / (time.perf_counter() - t0)


def main() -> None:
    from so101_sim.record_demos import RecordOptions, record_demos

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--task", default="Lift-v0")
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--vcodec", default="libsvtav1")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.quick:
        a.episodes, a.repeats = 2, 1
    opts = RecordOptions(task=a.task, episodes=a.episodes, image_size=a.image_size, vcodec=a.vcodec, progress=False)
    rec, enc, sim = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            root = Path(tmp) / f"rec{r}"
            opts.root, opts.repo_id = root, f"bench/rec{r}"
            report = record_demos(opts)
            rec.append(report.frames_per_second)
            t0 = time.perf_counter()
            episodes = collect(a.task, a.episodes, opts)
            sim.append(sum(map(len, episodes)) / (time.perf_counter() - t0))
            enc.append(encode_only(episodes, opts, Path(tmp) / f"enc{r}"))
            shutil.rmtree(root, ignore_errors=True)
    mr, me, ms = (statistics.median(x) for x in (rec, enc, sim))
    print(f"record-demos {a.task}: {a.episodes} episodes, {len(opts.cameras)} cameras at {a.image_size}px, "
          f"{a.vcodec}, median of {a.repeats}; load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    print(f"  record-demos (simulate + render + encode): {mr:8.1f} frames/s")
    print(f"  encoder-only bound (same frames):          {me:8.1f} frames/s")
    print(f"  simulate + render only:                    {ms:8.1f} frames/s")
    print(f"  ratio record / encoder bound:              {mr / me:8.2f}")


if __name__ == "__main__":
    main()
