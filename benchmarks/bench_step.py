"""State-only env step rate of the MuJoCo SO-101 env against raw ``mj_step`` on the same physics.

Each control step of the env is ``N_SUBSTEPS`` (8) physics steps of 1/240 s (30 Hz control). The physics
bound is the rate of ``mujoco.mj_step(model, data, nstep=8)`` alone, on the env's own model from the env's
own reset state, measured in the same run with repeats interleaved. The ratio env / bound is the wrapper
efficiency (goal: >= 0.85). ``--profile`` prints where ``SO101Env.step`` spends its time (cProfile).

Run::

    MENAGERIE_ROOT=../shared/menagerie python benchmarks/bench_step.py           # ~30 s
    python benchmarks/bench_step.py --quick                                      # ~5 s
    python benchmarks/bench_step.py --tasks Lift-v0,Reach-v0 --control-modes joint,ee_delta --profile
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import so101_sim  # noqa: F401  (registers the gym ids)


def _actions(env, n: int, seed: int = 0):
    """A fixed sequence of valid actions (a slow wave around the reset pose, or small Cartesian steps)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    if env.unwrapped.control_mode == "joint":
        obs, _ = env.reset(seed=seed)
        q0 = obs["agent_pos"]
        wave = np.sin(0.05 * np.arange(n)[:, None] + np.arange(6)[None, :]) * np.array([8, 6, 6, 8, 10, 10])
        acts = q0[None, :] + wave
    else:
        acts = rng.uniform(low, high, size=(n, len(low))) * 0.3
    return np.clip(acts, low, high).astype(np.float32)


def time_env(env, actions, seed: int) -> tuple[int, float]:
    """Env steps per second over ``actions`` (one episode stream; resets are not timed)."""
    env.reset(seed=seed)
    elapsed = 0.0
    step = env.step
    for a in actions:
        t0 = time.perf_counter()
        _, _, terminated, truncated, _ = step(a)
        elapsed += time.perf_counter() - t0
        if terminated or truncated:
            env.reset()
    return len(actions), elapsed


def time_physics(model, data0, ctrl_sequence, substeps: int, total: int) -> tuple[int, float]:
    """Raw ``mj_step`` bound: the env's controls replayed from its reset state, ``substeps`` physics steps
    per control step, restarting from the reset state (untimed) after each episode, ``total`` steps."""
    import mujoco

    step = mujoco.mj_step
    done, elapsed = 0, 0.0
    while done < total:
        data = copy.copy(data0)
        chunk = ctrl_sequence[: total - done]
        t0 = time.perf_counter()
        for ctrl in chunk:
            data.ctrl[:] = ctrl
            step(model, data, nstep=substeps)
        elapsed += time.perf_counter() - t0
        done += len(chunk)
    return done, elapsed


def bench_task(task: str, control_mode: str, steps: int, repeats: int, profile: bool) -> dict:
    import gymnasium as gym
    import numpy as np

    from so101_sim.mujoco.scene import N_SUBSTEPS

    env = gym.make(f"so101_sim/{task}", cameras=(), control_mode=control_mode)
    actions = _actions(env, steps)
    # The physics bound replays the controls the env actually sent (same contacts, same solver work).
    env.reset(seed=0)
    u = env.unwrapped
    data0 = copy.copy(u.data)
    ctrls = []
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        ctrls.append(u.data.ctrl.copy())
        if term or trunc:
            break
    ctrls = np.array(ctrls)
    env_rates, phys_rates = [], []
    time_env(env, actions[: min(50, len(actions))], 0)  # warm-up
    for r in range(repeats):
        n, s = time_physics(u.model, data0, ctrls, N_SUBSTEPS, len(actions))
        phys_rates.append(n / s)
        n, s = time_env(env, actions, 0)
        env_rates.append(n / s)
    prof_text = ""
    if profile:
        prof = cProfile.Profile()
        env.reset(seed=0)
        prof.enable()
        time_env(env, actions, 0)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
        prof_text = buf.getvalue()
    env.close()
    env_med, phys_med = statistics.median(env_rates), statistics.median(phys_rates)
    return {
        "task": task, "control_mode": control_mode, "env_steps_per_s": env_med, "physics_bound_per_s": phys_med,
        "ratio": env_med / phys_med, "overhead_us": 1e6 * (1 / env_med - 1 / phys_med),
        "env_rates": env_rates, "physics_rates": phys_rates, "profile": prof_text,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="Lift-v0,Reach-v0,PickPlace-v0")
    p.add_argument("--control-modes", default="joint")
    p.add_argument("--steps", type=int, default=2000, help="control steps per repeat")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="3 repeats of 300 steps, Lift-v0 only")
    p.add_argument("--profile", action="store_true", help="cProfile SO101Env.step and print the top entries")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.tasks = 300, 3, "Lift-v0"
    results = []
    for task in [t for t in args.tasks.split(",") if t]:
        for mode in [m for m in args.control_modes.split(",") if m]:
            res = bench_task(task, mode, args.steps, args.repeats, args.profile)
            results.append(res)
            print(f"  {task:13s} {mode:8s} env {res['env_steps_per_s']:8.0f}/s  "
                  f"bound {res['physics_bound_per_s']:8.0f}/s", flush=True)

    from so101_sim.mujoco.scene import N_SUBSTEPS, PHYSICS_DT

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    print(f"state-only (cameras=()), {N_SUBSTEPS} physics steps of {PHYSICS_DT:.5f} s per control step, "
          f"{args.steps} steps x {args.repeats} repeats, single thread, load1={load:.1f}")
    header = (f"{'task':14s} {'control':9s} {'env-steps/s':>12s} {'mj_step bound/s':>16s} {'env/bound':>10s} "
              f"{'overhead us/step':>17s}")
    print(header)
    print("-" * len(header))
    for r in results:
        flag = "" if r["ratio"] >= 0.85 else "  (< 0.85)"
        print(f"{r['task']:14s} {r['control_mode']:9s} {r['env_steps_per_s']:12.0f} "
              f"{r['physics_bound_per_s']:16.0f} {r['ratio']:10.2f} {r['overhead_us']:17.1f}{flag}")
    print("(medians over repeats; bound = raw mj_step(nstep=8) replaying the env's controls from its reset state)")
    if args.profile:
        for r in results:
            print(f"\n--- cProfile of env.step: {r['task']} {r['control_mode']} ---\n{r['profile']}")
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps({"results": results}, indent=2))
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
