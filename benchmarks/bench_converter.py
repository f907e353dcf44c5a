#!/usr/bin/env python
"""Benchmark: HDF5 -> LeRobot v3 conversion speed against the video-encoding-only bound, and peak memory.

    python benchmarks/bench_converter.py                       # 1,000 and 10,000 frames, 2 cameras at 640x480
    python benchmarks/bench_converter.py --frames 1000 --repeats 3 --height 480 --width 640

What it measures, all in the same run and on the same synthetic frames (smooth moving patterns that compress
like rendered images; Isaac Lab's gzip on every dataset):

* bound: encoding the two camera streams only, frames already in memory, one thread per camera, with the
  codec and options lerobot 0.4.4 uses (libsvtav1, crf 30, g 2, preset 12), the codec using all cores;
* convert: ``converters/hdf5_to_lerobot.py`` end to end in a subprocess (HDF5 reading and gzip decoding, state,
  tactile grids, parquet, stats, video), timed inside the converter (Python start-up and imports excluded; the
  wall time with them is printed too), and its peak RSS from ``wait4``.

Frames/s counts time steps (one frame of each camera). The goal is convert/bound >= 0.8 and the peak RSS of
the 10,000-frame file about that of the 1,000-frame file (demos of equal length, streamed one by one).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from so101_sim.convert.synthetic import frame, franka_step, write_demos


def make_file(path: Path, frames: int, demo_len: int, hw: tuple[int, int], compression: str | None) -> float:
    lengths = [demo_len] * (frames // demo_len) + ([frames % demo_len] if frames % demo_len else [])
    cache: dict[tuple[int, int], np.ndarray] = {}

    def step(d: int, t: int):  # reuse the (costly to draw) frames of demo 0 for speed; values stay distinct
        obs, action = franka_step(0, 0, (2, 2))
        for key, phase in (("rgb_table", 0), ("rgb_wrist", 2)):
            k = (t % 97, phase)
            if k not in cache:
                cache[k] = frame(t % 97, *hw, phase=phase)
            obs[key] = cache[k]
        obs["joint_pos"] = obs["joint_pos"] + np.float32(0.001 * t)
        return obs, action

    t0 = time.perf_counter()
    write_demos(path, lengths, step_fn=step, image_hw=hw, compression=compression)
    return time.perf_counter() - t0


def encode_bound(frames: int, hw: tuple[int, int]) -> float:
    """Time steps/s for encoding two cameras only (frames in memory, one thread per camera)."""
    import av
    from lerobot.datasets.video_utils import _get_codec_options

    imgs = [[frame(t % 97, *hw, phase=p) for t in range(frames)] for p in (0, 2)]
    tmp = Path(tempfile.mkdtemp(prefix="bench_bound_"))

    def encode(cam: int) -> None:
        with av.open(str(tmp / f"cam{cam}.mp4"), "w") as container:
            stream = container.add_stream("libsvtav1", 30, options=_get_codec_options("libsvtav1"))
            stream.pix_fmt, stream.width, stream.height = "yuv420p", hw[1], hw[0]
            for img in imgs[cam]:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            container.mux(stream.encode())

    threads = [threading.Thread(target=encode, args=(c,)) for c in (0, 1)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    return frames / elapsed


def lerobot_stream_bound(frames: int, hw: tuple[int, int]) -> float:
    """Time steps/s of lerobot's own StreamingVideoEncoder (what the converter feeds), frames in memory.

    This is the ceiling of any converter built on lerobot 0.4.4's public writing API: on top of encoding it
    converts every frame through PIL and computes per-frame image stats while holding the GIL.
    """
    from lerobot.datasets.video_utils import StreamingVideoEncoder

    imgs = [[frame(t % 97, *hw, phase=p) for t in range(frames)] for p in (0, 2)]
    tmp = Path(tempfile.mkdtemp(prefix="bench_stream_"))
    encoder = StreamingVideoEncoder(fps=30, vcodec="libsvtav1", queue_maxsize=frames + 1)  # never drops
    t0 = time.perf_counter()
    encoder.start_episode(["cam0", "cam1"], tmp)
    for t in range(frames):
        encoder.feed_frame("cam0", imgs[0][t])
        encoder.feed_frame("cam1", imgs[1][t])
    encoder.finish_episode()
    elapsed = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    return frames / elapsed


def run_converter(src: Path, out: Path, extra: list[str]) -> tuple[float, float, float]:
    """(frames/s inside the converter, wall seconds of the process, peak RSS MiB)."""
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    cmd = [
        sys.executable,
        str(REPO / "converters/hdf5_to_lerobot.py"),
        "--input",
        str(src),
        "--output-dir",
        str(out),
        "--repo-id",
        "bench/run",
        "--no-progress",
        "--task",
        "Lift the cube.",  # Isaac Lab files name only their gym id, which the converter refuses as an instruction
        *extra,
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_text, err_text = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"converter failed ({proc.returncode}):\n{err_text[-3000:]}")
    m = re.search(r"\(([\d.]+) s, ([\d.]+) frames/s\)", out_text)
    return float(m.group(2)), wall, _peak_rss_mib()


def _peak_rss_mib() -> float:
    """Peak RSS of reaped children: exact here, as each conversion runs from a fresh helper process (--single)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--demo-len", type=int, default=200, help="frames per demo")
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--repeats", type=int, default=3, help="runs of the bound and of the smallest conversion")
    p.add_argument("--bound-frames", type=int, default=300, help="frames per camera for the bound")
    p.add_argument(
        "--compression",
        default="gzip",
        choices=["gzip", "none"],
        help="compression of the generated HDF5 (Isaac Lab: gzip)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the files go; they are kept there and reused by later runs (default: a temp dir, deleted)",
    )
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    p.add_argument("--single", nargs=2, metavar=("SRC", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    hw = (args.height, args.width)

    if args.single:  # helper mode: one conversion, prints "fps wall rss" (fresh process => exact child RSS)
        fps, wall, rss = run_converter(Path(args.single[0]), Path(args.single[1]), [])
        print(f"RESULT {fps} {wall} {rss}")
        return

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_converter_"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"{os.cpu_count()} CPU cores, frames {hw[0]}x{hw[1]} x 2 cameras, demos of {args.demo_len} frames, "
        f"{args.compression} HDF5, "
        f"work dir {work}"
    )
    try:
        files = {}
        for n in sorted(args.frames):
            path = work / f"demos_{n}_{hw[0]}x{hw[1]}_{args.demo_len}_{args.compression}.hdf5"
            files[n] = path
            if path.exists():  # kept from an earlier run with --workdir
                print(f"reusing {path.name}: {path.stat().st_size / 2**20:.0f} MiB")
                continue
            secs = make_file(path, n, args.demo_len, hw, None if args.compression == "none" else "gzip")
            print(f"wrote {path.name}: {n} frames, {path.stat().st_size / 2**20:.0f} MiB in {secs:.0f} s")

        bounds, streams = [], []
        convs, walls, rss = {n: [] for n in files}, {n: [] for n in files}, {n: [] for n in files}
        smallest = min(files)
        for r in range(args.repeats):
            bounds.append(encode_bound(args.bound_frames, hw))
            streams.append(lerobot_stream_bound(args.bound_frames, hw))
            for n, path in files.items():
                if n != smallest and r > 0:
                    continue  # large files once
                res = subprocess.run(
                    [sys.executable, __file__, "--single", str(path), str(work / f"out_{n}")],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if res.returncode != 0:
                    raise RuntimeError(res.stderr[-3000:])
                fps, wall, peak = map(float, res.stdout.split("RESULT", 1)[1].split())
                convs[n].append(fps)
                walls[n].append(wall)
                rss[n].append(peak)
                print(
                    f"  run {r}: bound {bounds[-1]:.1f}, lerobot encoder {streams[-1]:.1f} frames/s; convert {n} frames: {fps:.1f} frames/s "
                    f"(process wall {wall:.1f} s), peak RSS {peak:.0f} MiB",
                    flush=True,
                )

        bound, stream = statistics.median(bounds), statistics.median(streams)
        print("\nResults (medians)")
        print(f"  video-encoding-only bound : {bound:8.1f} frames/s  (2 cameras, {args.repeats} runs)")
        print(
            f"  lerobot streaming encoder : {stream:8.1f} frames/s  = {stream / bound:.2f} x bound "
            "(frames in memory, no HDF5)"
        )
        for n in files:
            c = statistics.median(convs[n])
            print(
                f"  convert {n:>6} frames     : {c:8.1f} frames/s  = {c / bound:.2f} x bound, "
                f"{c / stream:.2f} x lerobot encoder; "
                f"wall with start-up {statistics.median(walls[n]):.1f} s; peak RSS {statistics.median(rss[n]):.0f} MiB"
            )
        if len(files) > 1:
            small, large = min(files), max(files)
            print(
                f"  peak RSS {large} / {small} frames: "
                f"{statistics.median(rss[large]) / statistics.median(rss[small]):.2f}"
            )
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
