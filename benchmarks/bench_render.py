"""Camera rendering throughput of the MuJoCo SO-101 env, per render preset, against the naive baseline.

Measures env steps/s of ``so101_sim/<task>`` with cameras (default: 3 cameras at 256x256) for each preset, in
one run, and prints medians over repeats and the speed-up against preset ``full`` (Menagerie's full meshes and
MuJoCo's default render options). Mode ``env`` is ``env.step`` as users call it (the env renders camera by
camera); mode ``render_all`` steps a state-only env and renders all cameras with
``CameraRenderer.render_all`` (one scene update and one read-back for all cameras).

Run (CPU, software GL)::

    MENAGERIE_ROOT=../shared/menagerie python benchmarks/bench_render.py            # ~1-2 min
    python benchmarks/bench_render.py --quick                                       # ~20 s

Run on a GPU machine (NVIDIA, headless EGL)::

    MUJOCO_GL=egl python benchmarks/bench_render.py --presets fast,pretty,full

The GL renderer string is printed: a "llvmpipe"/"softpipe" renderer means software rendering even on a GPU
host (missing NVIDIA EGL vendor library; set ``MUJOCO_EGL_DEVICE_ID`` to choose a GPU).
``--save-images DIR`` writes one PNG per camera and preset (the pictures in docs/images/).

Decimation: the time to decimate every visual-only SO-101 mesh to each preset's face ratio (what a first run
on a fresh machine pays before the cache holds them), median over ``--repeats``. ``--compare-decimate FILE``
times another implementation's ``decimate(verts, faces, ratio)`` on the same meshes in the same run, e.g. the
hand-written one this project used before meshoptimizer::

    git show e2a29bc:so101_sim/mujoco/mesh_lod.py > /tmp/mesh_lod_old.py
    python benchmarks/bench_render.py --decimation-only --compare-decimate /tmp/mesh_lod_old.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import so101_sim  # noqa: F401  (selects the GL backend before mujoco is imported)


def _hold_action(env, q0, step: int):
    """A slow joint-space wave around the reset pose ``q0`` (the arm moves, so every frame differs)."""
    import numpy as np

    base = q0
    wave = np.array([8.0, 6.0, 6.0, 8.0, 10.0, 10.0]) * np.sin(0.05 * step + np.arange(6))
    return np.clip(base + wave, env.action_space.low, env.action_space.high).astype(np.float32)


def _make_env(task: str, preset: str, cameras: tuple[str, ...], size: int, mode: str):
    import gymnasium as gym

    env_cameras = cameras if mode == "env" else ()
    env = gym.make(f"so101_sim/{task}", cameras=env_cameras, image_size=size, render_preset=preset)
    obs, _ = env.reset(seed=0)
    q0 = obs["agent_pos"].copy()
    renderer = None
    if mode == "render_all":
        from so101_sim.mujoco.rendering import CameraRenderer

        renderer = CameraRenderer(env.unwrapped.model, {c: (size, size) for c in cameras})
    return env, renderer, q0


def _run_steps(env, renderer, q0, min_steps: int, min_seconds: float, start_step: int) -> tuple[int, float]:
    """Steps until both ``min_steps`` and ``min_seconds`` are reached; resets are not timed."""
    steps, elapsed, i = 0, 0.0, start_step
    while steps < min_steps or elapsed < min_seconds:
        t0 = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(_hold_action(env, q0, i))
        if renderer is not None:
            renderer.render_all(env.unwrapped.data)
        elapsed += time.perf_counter() - t0
        steps += 1
        i += 1
        if terminated or truncated:
            env.reset()
    return steps, elapsed


def _visual_faces(model) -> int:
    """Mesh faces drawn per image by the visual geoms (groups 0-2)."""
    import mujoco

    return int(sum(model.mesh_facenum[model.geom_dataid[g]] for g in range(model.ngeom)
                   if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and model.geom_group[g] < 3))


def bench(task, configs, cameras, size, repeats, min_steps, min_seconds) -> list[dict]:
    """All (preset, mode) configurations, their repeats interleaved so that a change in machine load
    (the CPU may be shared) hits every configuration alike; medians over repeats."""
    runs = []
    for preset, mode in configs:
        t0 = time.perf_counter()
        env, renderer, q0 = _make_env(task, preset, cameras, size, mode)
        build_s = time.perf_counter() - t0
        _run_steps(env, renderer, q0, 1, 0.0, 0)  # warm-up: GL context, first uploads
        runs.append({"preset": preset, "mode": mode, "env": env, "renderer": renderer, "q0": q0,
                     "build_s": build_s, "rates": []})
    for r in range(repeats):
        for run in runs:
            n, s = _run_steps(run["env"], run["renderer"], run["q0"], min_steps, min_seconds, 1000 * (r + 1))
            run["rates"].append(n / s)
        print(f"  repeat {r + 1}/{repeats}: " + ", ".join(
            f"{run['preset']}/{run['mode']} {run['rates'][-1]:.1f}" for run in runs), flush=True)
    results = []
    for run in runs:
        median = statistics.median(run["rates"])
        results.append({
            "preset": run["preset"], "mode": run["mode"], "steps_per_s": median, "rates": run["rates"],
            "frames_per_s": median * len(cameras), "build_s": run["build_s"],
            "visual_faces": _visual_faces(run["env"].unwrapped.model),
        })
        if run["renderer"] is not None:
            run["renderer"].close()
        run["env"].close()
    return results


def _load_decimate(path: Path):
    """``decimate`` of a module file outside the package (another implementation to compare against)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_decimate_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the module look themselves up here
    spec.loader.exec_module(module)
    return module.decimate


def bench_decimation(presets, repeats: int, compare: Path | None) -> list[dict]:
    """Seconds to decimate all visual-only meshes per preset ratio (STL reading not timed), per implementation."""
    from so101_sim.mujoco import mesh_lod
    from so101_sim.mujoco.rendering import RENDER_PRESETS
    from so101_sim.mujoco.scene import load_robot_spec, menagerie_dir

    spec = load_robot_spec()
    asset_dir = menagerie_dir() / (spec.meshdir or "")
    meshes = [mesh_lod.read_stl(asset_dir / m.file) for m in mesh_lod.visual_only_meshes(spec)
              if str(m.file).lower().endswith(".stl")]
    impls = {"meshoptimizer": mesh_lod.decimate}
    if compare is not None:
        impls[f"compare ({compare.name})"] = _load_decimate(compare)
    results = []
    for preset in presets:
        ratio = RENDER_PRESETS[preset].face_ratio
        if ratio is None:
            continue
        for name, decimate in impls.items():
            times, faces = [], 0
            for _ in range(repeats if name == "meshoptimizer" else max(1, min(repeats, 2))):
                t0 = time.perf_counter()
                faces = sum(len(decimate(v, f, ratio)[1]) for v, f in meshes)
                times.append(time.perf_counter() - t0)
            results.append({"preset": preset, "ratio": ratio, "impl": name, "meshes": len(meshes),
                            "faces_before": sum(len(f) for _, f in meshes), "faces_after": faces,
                            "seconds": statistics.median(times)})
    return results


def print_decimation(results: list[dict]) -> None:
    print(f"{'preset':8s} {'ratio':>6s} {'implementation':32s} {'meshes':>6s} {'faces':>15s} {'seconds':>8s} "
          f"{'vs meshopt':>10s}")
    for r in results:
        base = next(x["seconds"] for x in results if x["preset"] == r["preset"] and x["impl"] == "meshoptimizer")
        print(f"{r['preset']:8s} {r['ratio']:6.2f} {r['impl']:32s} {r['meshes']:6d} "
              f"{r['faces_before']:>7d}->{r['faces_after']:<7d} {r['seconds']:8.3f} {r['seconds'] / base:9.1f}x")
    print("(decimation of every visual-only mesh, STL parsing not timed; medians over repeats)")


def save_images(directory: Path, task: str, presets, cameras, size) -> list[Path]:
    """One PNG per camera and preset, of the same scene state (seed 0, a few steps in)."""
    import gymnasium as gym
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for preset in presets:
        env = gym.make(f"so101_sim/{task}", cameras=cameras, image_size=size, render_preset=preset)
        obs, _ = env.reset(seed=0)
        q0 = obs["agent_pos"].copy()
        for i in range(10):
            obs, *_ = env.step(_hold_action(env, q0, i))
        for cam, img in obs["pixels"].items():
            path = directory / f"{preset}_{cam}.png"
            tmp = path.with_suffix(".tmp.png")
            Image.fromarray(img).save(tmp, optimize=True, compress_level=9)
            os.replace(tmp, path)
            written.append(path)
        env.close()
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="Lift-v0")
    p.add_argument("--presets", default="fast,pretty,full", help="comma list; 'full' is the baseline")
    p.add_argument("--modes", default="env,render_all", help="env and/or render_all (see module doc)")
    p.add_argument("--cameras", default="camera1,camera2,camera3")
    p.add_argument("--size", type=int, default=256, help="image height = width")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-steps", type=int, default=5, help="env steps per repeat, at least")
    p.add_argument("--min-seconds", type=float, default=2.0, help="seconds per repeat, at least")
    p.add_argument("--quick", action="store_true",
                   help="3 repeats of >= 0.5 s each (a first look, ~1 min on 2 software-GL cores)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--save-images", type=Path, help="write <preset>_<camera>.png of every preset here")
    p.add_argument("--images-only", action="store_true", help="with --save-images: skip the timing")
    p.add_argument("--decimation-only", action="store_true", help="time the mesh decimation only (no rendering)")
    p.add_argument("--compare-decimate", type=Path,
                   help="a module file whose decimate(verts, faces, ratio) is timed on the same meshes")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.min_steps, args.min_seconds = 3, 1, 0.5
    presets = [s for s in args.presets.split(",") if s]
    modes = [s for s in args.modes.split(",") if s]
    cameras = tuple(c for c in args.cameras.split(",") if c)
    for mode in modes:
        if mode not in ("env", "render_all"):
            p.error(f"unknown mode {mode!r}")

    if args.images_only:
        if not args.save_images:
            p.error("--images-only needs --save-images DIR")
        for path in save_images(args.save_images, args.task, presets, cameras, args.size):
            print("wrote", path)
        return 0
    decimation = bench_decimation(presets, args.repeats, args.compare_decimate)
    if args.decimation_only:
        print_decimation(decimation)
        return 0
    configs = [(preset, mode) for preset in presets for mode in modes
               if not (mode == "render_all" and preset == "full" and "env" in modes)]  # baseline: plain env
    results = bench(args.task, configs, cameras, args.size, args.repeats, args.min_steps, args.min_seconds)

    from so101_sim.mujoco.rendering import gl_info

    info = gl_info()
    base = next((r["steps_per_s"] for r in results if r["preset"] == "full" and r["mode"] == "env"), None)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    print(f"GL: backend={info['backend']} renderer={info['renderer']!r} software={info['software']}")
    print(f"task={args.task} cameras={len(cameras)}x{args.size}x{args.size} repeats={args.repeats} "
          f"cpus={os.cpu_count()} load1={load:.1f}")
    header = (f"{'preset':8s} {'mode':11s} {'faces':>7s} {'env-steps/s':>12s} {'frames/s':>9s} {'ms/step':>8s} "
              f"{'vs full':>8s}")
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r['steps_per_s'] / base:7.1f}x" if base else "      -"
        print(f"{r['preset']:8s} {r['mode']:11s} {r['visual_faces']:7d} {r['steps_per_s']:12.2f} "
              f"{r['frames_per_s']:9.1f} {1000 / r['steps_per_s']:8.2f} {ratio:>8s}")
    print("(medians over repeats; faces = mesh faces drawn per camera image; 'vs full' = env-steps/s ratio)")
    print()
    print_decimation(decimation)
    if args.json:
        payload = {"gl": info, "args": {k: str(v) for k, v in vars(args).items()}, "results": results,
                   "decimation": decimation}
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        os.replace(tmp, args.json)
    if args.save_images:
        for path in save_images(args.save_images, args.task, presets, cameras, args.size):
            print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
