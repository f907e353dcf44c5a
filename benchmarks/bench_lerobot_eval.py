"""lerobot-eval throughput with the scripted policy: episodes per minute, batch 1 vs 4, sync vs async,
cameras on (3 x 256x256) vs off. Runs the stock CLI as a user would and reads ``eval_s`` from eval_info.json
(the evaluation itself, without the ~10 s of importing torch and lerobot). Baseline: batch 1, sync, no cameras.

    python benchmarks/bench_lerobot_eval.py [--quick] [--episodes 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent


def run_eval(batch: int, use_async: bool, cameras: bool, episodes: int, task: str, out: Path) -> float:
    args = [
        str(BIN / "lerobot-eval"), "--env.type=so101", f"--env.task={task}", "--policy.type=so101_scripted",
        f"--eval.n_episodes={episodes}", f"--eval.batch_size={batch}", f"--output_dir={out}",
    ]  # fmt: skip
    if use_async:
        args += ["--env.envhub_loader=true", "--trust_remote_code=true", "--eval.use_async_envs=true"]
    if not cameras:
        args += ["--env.cameras=[]"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=out.parent)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    info = json.loads((out / "eval_info.json").read_text())["overall"]
    return info["n_episodes"] / info["eval_s"] * 60.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--task", default="Lift-v0")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.quick:
        a.episodes, a.repeats = 4, 1
    configs = [(b, asy, cam) for cam in (False, True) for asy in (False, True) for b in (1, 4)]
    results: dict[tuple, list[float]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):  # interleaved: every configuration sees the same machine load
            for c in configs:
                out = Path(tmp) / f"r{r}_{c[0]}_{c[1]}_{c[2]}"
                results[c].append(run_eval(*c, a.episodes, a.task, out))
    base = statistics.median(results[(1, False, False)])
    print(f"lerobot-eval --policy.type=so101_scripted --env.task={a.task}, {a.episodes} episodes, "
          f"median of {a.repeats}; load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    print(f"{'batch':>5} {'vector':>6} {'cameras':>8} {'episodes/min':>13} {'vs batch1/sync/no-cam':>22}")
    for c in configs:
        m = statistics.median(results[c])
        print(f"{c[0]:>5} {'async' if c[1] else 'sync':>6} {'3x256' if c[2] else 'off':>8} {m:>13.1f} {m / base:>21.2f}x")


if __name__ == "__main__":
    main()
