"""The Isaac Lab 3.0 backend, kit-less (Newton + MuJoCo Warp physics, Warp ray-traced cameras), on a GPU.

Sub-commands (each builds one env: Isaac Lab keeps one simulation per process; ``all`` runs them as
subprocesses and prints/writes one JSON document):

- ``images``: Lift with ``camera1`` + ``camera2`` in N worlds; PNGs of the first worlds and the states they show
  (so the MuJoCo backend can render the same states: ``--mujoco-from states.json`` on a machine with MuJoCo).
- ``expert``: the MuJoCo backend's scripted expert (same privileged state, same action interface) over N worlds
  = N seeds at once; success = the task's own success term (Lift: cube >= 5 cm up for 10 steps).
- ``replay``: joint targets recorded from the MuJoCo backend (``--record`` makes them) replayed on
  Lift-Cube-Fixed; the cube height trajectory of both backends side by side (actuators, contacts, frictions).
- ``throughput``: env-steps/s at N worlds, state-only or with both cameras at a size, measured on the raw Isaac
  Lab env (observations, rewards, success, resets on the GPU) and through the lerobot-eval VectorEnv (numpy).
- ``mujoco``: the MuJoCo CPU backend's state-only step rate in one process, the baseline on the same machine.

Run (GPU machine, Isaac Lab 3.0 Python)::

    python benchmarks/bench_isaac.py all --out /tmp/bench            # ~10 min on an H200, first run compiles
    python benchmarks/bench_isaac.py throughput --num-envs 1024 --cameras 2 --size 128
    python benchmarks/bench_isaac.py --mujoco-from /tmp/bench/states.json --out /tmp/bench   # MuJoCo side
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LIFT = "Isaac-SO-ARM101-Lift-Cube-v0"
FIXED = "Isaac-SO-ARM101-Lift-Cube-Fixed-v0"
REACH = "Isaac-SO-ARM101-Reach-v0"
# solver settings tried by the replay (the scene's own first): contact capacity, solver iterations, no elliptic cone
REPLAY_SWEEP = ({}, {"nconmax": 600, "njmax": 1200}, {"nconmax": 600, "njmax": 1200, "iterations": 100,
                "ls_iterations": 50}, {"nconmax": 600, "njmax": 1200, "cone": "pyramidal", "impratio": 1.0})


def _build(task, n, cameras=(), size=128, episode=None, device="cuda:0"):
    from so101_sim.isaac import make_vector_env

    return make_vector_env(task, num_envs=n, cameras=tuple(cameras), image_size=(size, size), episode_length=episode,
                           device=device, launch_app=True, units="radians", add_ee_to_obs=False)


class _GpuTurn:
    """Parallel builds, one GPU-stepping section at a time (``--lock FILE``; no lock: no waiting)."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def __enter__(self):
        self.f = open(self.path, "w") if self.path else None
        if self.f:
            fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        if self.f:
            fcntl.flock(self.f, fcntl.LOCK_UN)
            self.f.close()


def _emit(result: dict) -> None:
    print("RESULT " + json.dumps(result), flush=True)


# ---- images --------------------------------------------------------------------------------------------------
def cmd_images(a) -> None:
    from PIL import Image

    env = _build(LIFT, a.num_envs, ("camera1", "camera2"), a.size, device=a.device)
    obs, _ = env.reset(seed=a.seed)
    obs, *_ = env.step(obs["agent_pos"])  # one control step: the cube settles, cameras render the new state
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    shown = min(4, a.num_envs)
    spread = {c: obs["pixels"][c].reshape(a.num_envs, -1, 3).std(axis=1).mean(axis=1) for c in ("camera1", "camera2")}
    for c in ("camera1", "camera2"):
        Image.fromarray(np.concatenate(list(obs["pixels"][c][:shown]), axis=1)).save(out / f"isaac_{c}.png")
    states = {"agent_pos_rad": obs["agent_pos"][:shown].tolist(),
              "environment_state": obs["environment_state"][:shown].tolist(), "size": a.size}
    (out / "states.json").write_text(json.dumps(states))
    _emit({"bench": "images", "num_envs": a.num_envs, "size": a.size,
           "min_pixel_std": {c: float(v.min()) for c, v in spread.items()},
           "blank_images": {c: int((v < 5).sum()) for c, v in spread.items()}})
    env.close()


def mujoco_images(states_file: Path, out: Path) -> None:
    """Render the MuJoCo backend at the states the Isaac run saved and put both side by side (run with MuJoCo)."""
    import mujoco
    from PIL import Image

    from so101_sim.mujoco.env import SO101Env

    st = json.loads(states_file.read_text())
    size = st["size"]
    env = SO101Env("Lift-v0", cameras=("camera1", "camera2"), image_size=size, units="radians")
    env.reset(seed=0)
    rows = {"camera1": [], "camera2": []}
    for q, s in zip(st["agent_pos_rad"], st["environment_state"], strict=True):
        env.data.qpos[env.idx.joint_qpos] = q
        env.data.qpos[env.idx.cube_qpos:env.idx.cube_qpos + 7] = s[0:7]
        mujoco.mj_forward(env.model, env.data)
        imgs = env._render_cameras()
        for c, row in rows.items():
            row.append(imgs[c])
    for c, row in rows.items():
        isaac = np.asarray(Image.open(out / f"isaac_{c}.png"))
        both = np.concatenate([np.concatenate(row, axis=1), isaac], axis=0)
        Image.fromarray(both).save(out / f"mujoco_vs_isaac_{c}.png")  # top row MuJoCo, bottom row Isaac
    env.close()


# ---- expert ----------------------------------------------------------------------------------------------------
def cmd_expert(a) -> None:
    from so101_sim.mujoco.expert import ScriptedExpert

    task = {"lift": LIFT, "reach": REACH, "fixed": FIXED}[a.task]
    mj_task = {"lift": "Lift-v0", "reach": "Reach-v0", "fixed": "LiftFixed-v0"}[a.task]
    env = _build(task, a.num_envs, device=a.device)
    obs, _ = env.reset(seed=a.seed)
    experts = [ScriptedExpert(mj_task, units="radians") for _ in range(a.num_envs)]
    done = np.zeros(a.num_envs, dtype=bool)
    success = np.zeros(a.num_envs, dtype=bool)
    max_cube_z = np.zeros(a.num_envs)
    turn = _GpuTurn(a.lock).__enter__()
    t0 = time.perf_counter()
    for _step in range(env.max_episode_steps + 1):
        act = np.stack([e.act(obs["agent_pos"][i], obs["environment_state"][i]) for i, e in enumerate(experts)])
        obs, _r, term, trunc, info = env.step(act)
        live = ~done
        max_cube_z[live] = np.maximum(max_cube_z[live], obs["environment_state"][live, 2])
        ended = (term | trunc) & live
        if ended.any():
            success[ended] = info["final_info"]["is_success"][ended]
            done |= ended
        if done.all():
            break
    turn.__exit__()
    _emit({"bench": "expert", "task": task, "num_envs": a.num_envs, "success_rate": float(success.mean()),
           "successes": int(success.sum()), "median_max_lift_mm": float(np.median(max_cube_z - 0.0125) * 1000),
           "seconds": time.perf_counter() - t0})
    env.close()


# ---- cross-backend replay --------------------------------------------------------------------------------------
def record_mujoco(path: Path) -> None:
    """The MuJoCo expert on LiftFixed-v0: its joint targets (radians) and the cube trajectory, to replay."""
    from so101_sim.mujoco.env import SO101Env
    from so101_sim.mujoco.expert import ScriptedExpert

    env = SO101Env("LiftFixed-v0", cameras=None, units="radians")
    obs, _ = env.reset(seed=0)
    expert = ScriptedExpert("LiftFixed-v0", units="radians")
    actions, cube = [], []
    for _ in range(200):
        act = expert.act(obs["agent_pos"], obs["environment_state"])
        obs, _r, term, trunc, _info = env.step(act)
        actions.append(act)
        cube.append(obs["environment_state"][:3].copy())
        if term or trunc:
            break
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, actions=np.array(actions), cube=np.array(cube))
    os.replace(tmp, path)


def _build_variant(task, n, solver: dict, episode: int, device: str):
    """The task with MuJoCo Warp solver settings overridden (the replay's contact/solver sweep)."""
    import isaac_so_arm101
    from isaac_so_arm101.robots import robot_spec
    from so101_sim.isaac.isaaclab_api import il
    from so101_sim.isaac.vector_env import IsaacAsVectorEnv

    cfg = isaac_so_arm101.make_task_cfg(task, "vla", num_envs=n, episode_length=episode, cameras=())
    cfg.sim.device = device
    for k, v in solver.items():
        setattr(cfg.sim.physics.solver_cfg, k, v)
    spec = robot_spec("SO-101")
    return IsaacAsVectorEnv(il.ManagerBasedRLEnv(cfg=cfg, render_mode="rgb_array"), units="radians", cameras=(),
                            ee_link_name=spec.link("gripper_link"), add_ee_to_obs=False,
                            joint_low=spec.lower, joint_high=spec.upper)


def cmd_replay(a) -> None:
    data = np.load(a.targets)
    actions, cube_mj = data["actions"], data["cube"]
    solver = json.loads(a.solver) if a.solver else {}
    env = _build_variant(FIXED, a.num_envs, solver, len(actions) + 5, a.device)
    env.reset(seed=0)
    cube = []
    with _GpuTurn(a.lock):
        for act in actions:
            obs, *_ = env.step(np.tile(act, (a.num_envs, 1)))
            cube.append(obs["environment_state"][0, :3].copy())
    cube = np.array(cube)
    dz = np.abs(cube[:, 2] - cube_mj[:, 2])
    dxy = np.linalg.norm(cube[:, :2] - cube_mj[:, :2], axis=1)
    _emit({"bench": "replay", "solver": solver, "steps": len(actions), "mujoco_max_lift_mm": float((cube_mj[:, 2].max() - 0.0125) * 1000),
           "isaac_max_lift_mm": float((cube[:, 2].max() - 0.0125) * 1000),
           "max_abs_dz_mm": float(dz.max() * 1000), "median_abs_dz_mm": float(np.median(dz) * 1000),
           "max_dxy_mm": float(dxy.max() * 1000),
           "cube_z_mm_every_10": {"mujoco": (cube_mj[::10, 2] * 1000).round(1).tolist(),
                                  "isaac": (cube[::10, 2] * 1000).round(1).tolist()}})
    env.close()


# ---- throughput --------------------------------------------------------------------------------------------------
def cmd_throughput(a) -> None:
    import torch

    cams = ("camera1", "camera2") if a.cameras == 2 else ()
    t_build = time.perf_counter()
    env = _build(LIFT, a.num_envs, cams, a.size, episode=300, device=a.device)
    obs, _ = env.reset(seed=0)
    build_s = time.perf_counter() - t_build
    raw = env.isaac_env
    q = torch.as_tensor(obs["agent_pos"], device=raw.device, dtype=torch.float32)
    phase = torch.linspace(0, 6.28, a.num_envs, device=raw.device)[:, None]
    rates = {}
    with _GpuTurn(a.lock):
        for mode in ("raw", "vector_env"):
            for i in range(a.warmup + a.steps):
                if i == a.warmup:
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                act = q + 0.05 * torch.sin(phase + 0.1 * i)
                if mode == "raw":
                    raw.step(act)
                else:
                    env.step(act.cpu().numpy())
            torch.cuda.synchronize()
            rates[mode] = a.num_envs * a.steps / (time.perf_counter() - t0)
    _emit({"bench": "throughput", "num_envs": a.num_envs, "cameras": a.cameras, "size": a.size if cams else None,
           "env_steps_per_s_raw": rates["raw"], "env_steps_per_s_vector_env": rates["vector_env"],
           "build_s": build_s})
    env.close()


def cmd_mujoco(a) -> None:
    from so101_sim.mujoco.env import SO101Env

    env = SO101Env("Lift-v0", cameras=None, units="radians")
    obs, _ = env.reset(seed=0)
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(a.steps):
            obs, *_ = env.step(obs["agent_pos"] + 0.01 * np.sin(i))
        rates.append(a.steps / (time.perf_counter() - t0))
    _emit({"bench": "mujoco_cpu_state_only", "env_steps_per_s_one_process": statistics.median(rates)})


# ---- everything ---------------------------------------------------------------------------------------------------
def _run(args: list[str], timeout: float) -> list[dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return [{"bench": args[0], "args": args, "error": f"timeout after {timeout} s",
                 "tail": str(exc.stdout or "")[-500:]}]
    results = [json.loads(line[7:]) for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not results:
        results.append({"bench": args[0], "args": args, "error": f"exit {out.returncode}",
                        "tail": (out.stdout[-800:] + out.stderr[-2500:])})
    return results


def cmd_all(a) -> None:
    from concurrent.futures import ThreadPoolExecutor

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []

    def log(rs):
        results.extend(rs)
        for r in rs:
            print(json.dumps(r)[:600], flush=True)
        (out / "bench_isaac.json").write_text(json.dumps(results, indent=1))

    t0 = time.perf_counter()
    log(_run(["images", "--num-envs", "64", "--size", "256", "--out", str(out)], 900))  # compiles the kernels
    print(f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    lock = str(out / "gpu.lock")
    jobs = [["expert", "--task", "lift", "--num-envs", "100"]]
    if a.targets:
        jobs += [["replay", "--targets", a.targets, "--solver", json.dumps(solver)] for solver in REPLAY_SWEEP]
    jobs += [["expert", "--task", "reach", "--num-envs", "100"], ["mujoco"]]
    for n in a.sizes:
        jobs.append(["throughput", "--num-envs", str(n), "--cameras", "0"])
        jobs += [["throughput", "--num-envs", str(n), "--cameras", "2", "--size", str(s)] for s in a.image_sizes]
    jobs = [j if j[0] == "mujoco" else [*j, "--lock", lock] for j in jobs]
    with ThreadPoolExecutor(a.parallel) as pool:
        for rs in pool.map(lambda j: _run(j, a.job_timeout), jobs):
            log(rs)
            print(f"[{time.perf_counter() - t0:.0f} s]", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", default="all",
                   choices=["all", "images", "expert", "replay", "throughput", "mujoco", "record"])
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--cameras", type=int, default=0, choices=[0, 2])
    p.add_argument("--task", default="lift", choices=["lift", "reach", "fixed"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--out", default="outputs/bench_isaac")
    p.add_argument("--targets", default=None, help="replay: .npz from `record` (MuJoCo joint targets + cube)")
    p.add_argument("--lock", default=None)
    p.add_argument("--solver", default=None, help='replay: MJWarpSolverCfg overrides as JSON, e.g. {"nconmax": 600}')
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[64, 256, 1024, 4096])
    p.add_argument("--image-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[128, 256])
    p.add_argument("--parallel", type=int, default=4, help="all: builds in parallel (timed sections serialised)")
    p.add_argument("--job-timeout", type=float, default=600)
    p.add_argument("--mujoco-from", default=None, help="render MuJoCo at the states of an `images` run")
    a = p.parse_args()
    if a.mujoco_from:
        mujoco_images(Path(a.mujoco_from), Path(a.out))
        return
    if a.command == "record":
        record_mujoco(Path(a.targets))
        return
    {"all": cmd_all, "images": cmd_images, "expert": cmd_expert, "replay": cmd_replay,
     "throughput": cmd_throughput, "mujoco": cmd_mujoco}[a.command](a)


if __name__ == "__main__":
    main()
