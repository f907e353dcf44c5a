"""Headline BC -> RL benchmark on Lift-v0 (random cube pose), measured with STOCK ``lerobot-eval``.

Steps (all real: MuJoCo, LeRobot datasets, lerobot-eval subprocesses):

1. ``so101-sim record-demos --state-only``: a deliberately small set of scripted demos (default 15).
2. ``so101-sim rl bc``: flow_mlp behaviour cloning (chunk 20, execute 10).
3. stock ``lerobot-eval`` of the BC checkpoint on ``--eval-episodes`` held-out seeds (start ``--eval-seed``), with
   the K the RL run uses; the failure taxonomy (no contact / slip / not high enough) on the same seeds.
4. ``so101-sim rl train`` from the BC checkpoint.
5. stock ``lerobot-eval`` of the RL checkpoint on the same seeds, and its taxonomy.
6. Trainer overhead: the collector's env-steps/s (policy + chain + bookkeeping included) against the raw vector
   env stepping the same worlds with hold actions, measured in this run.

Prints success rates, the Wilson 95% lower bounds, the gain in points and writes ``--json``.

    python benchmarks/bench_rl_lift.py --out /tmp/bench_rl --demos 15 --iterations 20 --json /tmp/bench_rl.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def sh(*args: str, cwd: Path) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", WANDB_MODE="disabled")
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def stock_eval(ckpt: Path, out: Path, args: argparse.Namespace) -> dict:
    from so101_sim.rl.evaluate import wilson_lower

    exe = Path(sys.executable).with_name("lerobot-eval")
    t0 = time.perf_counter()
    sh(
        str(exe), f"--policy.path={ckpt}", "--env.type=so101", f"--env.task={args.task}", "--env.cameras=[]",
        f"--eval.n_episodes={args.eval_episodes}", f"--eval.batch_size={args.eval_batch}", f"--seed={args.eval_seed}",
        "--policy.device=cpu", f"--output_dir={out}", cwd=out.parent,
    )  # fmt: skip
    info = json.loads((out / "eval_info.json").read_text())
    pc = float(info["overall"]["pc_success"])
    n = int(info["overall"].get("n_episodes", args.eval_episodes))
    k = round(pc * n / 100)
    return {"pc_success": pc, "n": n, "wilson_lower": 100 * wilson_lower(k, n), "seconds": time.perf_counter() - t0}


def raw_vs_collector(ckpt: Path, args: argparse.Namespace) -> dict:
    """Raw vector env steps/s (hold actions) vs the RL collector's, same worlds, same process."""
    import torch

    from so101_sim.env_lerobot import make_vector_env
    from so101_sim.rl.adapters import load_adapter
    from so101_sim.rl.chain import ReinFlowChain
    from so101_sim.rl.collector import ChunkCollector, make_train_envs

    n, steps = args.n_envs, 200
    env = make_vector_env(args.task, n, cameras=(), render_mode=None)
    obs, _ = env.reset(seed=list(range(n)))
    hold = obs["agent_pos"].astype(np.float32)
    t0 = time.perf_counter()
    for _ in range(steps):
        env.step(hold)
    raw = n * steps / (time.perf_counter() - t0)
    env.close()
    adapter = load_adapter(ckpt, num_steps=args.denoise_steps)
    adapter.set_eval()
    chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=args.denoise_steps)
    envs = make_train_envs(args.task, n)
    col = ChunkCollector(envs, adapter, chain, seed=123)
    t0 = time.perf_counter()
    col.collect(steps // adapter.spec.n_exec, generator=torch.Generator().manual_seed(0))
    coll = col.env_steps / (time.perf_counter() - t0)
    envs.close()
    return {"raw_env_steps_per_s": raw, "collector_env_steps_per_s": coll, "collector_over_raw": coll / raw}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="work directory (must not exist)")
    p.add_argument("--task", default="Lift-v0")
    p.add_argument("--demos", type=int, default=15)
    p.add_argument("--demo-seed", type=int, default=0)
    p.add_argument("--bc-steps", type=int, default=2000)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--n-envs", type=int, default=32)
    p.add_argument("--episode-length", type=int, default=150, help="training episode length (eval uses the task's)")
    p.add_argument("--denoise-steps", type=int, default=4)
    p.add_argument("--rl-args", default="", help="extra so101-sim rl train options, e.g. '--lr 3e-5 --reward shaped'")
    p.add_argument("--eval-episodes", type=int, default=200)
    p.add_argument("--eval-batch", type=int, default=50)
    p.add_argument("--eval-seed", type=int, default=1000)
    p.add_argument("--bc", type=Path, help="reuse this BC checkpoint (skip recording and BC)")
    p.add_argument("--rl", type=Path, help="reuse this RL checkpoint (skip RL training)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()

    import torch

    from so101_sim.rl.evaluate import failure_taxonomy

    torch.set_num_threads(1)
    out = args.out
    out.mkdir(parents=True, exist_ok=False)
    cli = [sys.executable, "-m", "so101_sim.cli"]
    res: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    if args.bc is not None:
        import shutil

        shutil.copytree(args.bc, out / "bc")
    else:
        t0 = time.perf_counter()
        sh(*cli, "record-demos", "--task", args.task, "--episodes", str(args.demos), "--repo-id", "local/bench_rl",
           "--root", str(out / "demos"), "--state-only", "--seed", str(args.demo_seed), cwd=out)  # fmt: skip
        res["record_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        sh(*cli, "rl", "bc", "--dataset.root", str(out / "demos"), "--dataset.repo_id", "local/bench_rl",
           "--output", str(out / "bc"), "--steps", str(args.bc_steps), "--no-progress", cwd=out)  # fmt: skip
        res["bc_s"] = time.perf_counter() - t0
    # The BC baseline with the K the RL export will use (the same ODE sampler, no exploration noise).
    cfg = json.loads((out / "bc" / "config.json").read_text())
    cfg["num_inference_steps"] = args.denoise_steps
    (out / "bc" / "config.json").write_text(json.dumps(cfg, indent=2))
    res["bc_eval"] = stock_eval(out / "bc", out / "eval_bc", args)
    tax = {"task": args.task, "n_episodes": args.eval_episodes, "start_seed": args.eval_seed}
    res["bc_taxonomy"] = failure_taxonomy(out / "bc", **tax)
    print(f"BC: {res['bc_eval']['pc_success']:.1f}% (Wilson lower {res['bc_eval']['wilson_lower']:.1f}%) "
          f"{res['bc_taxonomy']}", flush=True)  # fmt: skip
    t0 = time.perf_counter()
    if args.rl is None:
        sh(*cli, "rl", "train", f"--policy.path={out / 'bc'}", f"--env.task={args.task}", "--output-dir",
           str(out / "rl"), "--n-envs", str(args.n_envs), "--iterations", str(args.iterations),
           "--episode-length", str(args.episode_length), "--denoise-steps", str(args.denoise_steps),
           "--eval-episodes", "50", "--eval-seed", "900000", "--no-progress", *args.rl_args.split(), cwd=out)  # fmt: skip
    res["rl_s"] = time.perf_counter() - t0
    ckpt = args.rl if args.rl is not None else out / "rl" / "checkpoints" / "last" / "pretrained_model"
    res["rl_eval"] = stock_eval(ckpt, out / "eval_rl", args)
    res["rl_taxonomy"] = failure_taxonomy(ckpt, **tax)
    res["gain_points"] = res["rl_eval"]["pc_success"] - res["bc_eval"]["pc_success"]
    res["overhead"] = raw_vs_collector(out / "bc", args)
    print(f"RL: {res['rl_eval']['pc_success']:.1f}% (Wilson lower {res['rl_eval']['wilson_lower']:.1f}%) "
          f"{res['rl_taxonomy']}  gain {res['gain_points']:+.1f} points", flush=True)  # fmt: skip
    o = res["overhead"]
    print(f"collector {o['collector_env_steps_per_s']:.0f} env-steps/s vs raw vector env "
          f"{o['raw_env_steps_per_s']:.0f} (ratio {o['collector_over_raw']:.2f})")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
