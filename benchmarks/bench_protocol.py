"""Round-trip latency of the GR00T ZMQ protocol against a direct in-process policy call.

Both arms call the same trivial policy (a constant 50x6 action chunk), so the difference is the protocol:
msgpack + numpy (de)serialisation, validation, ZMQ over loopback TCP (the server's ROUTER socket), and the server
loop. The client builds each request from the server's modality config, read once before timing. The server runs
in a separate process (as in real use). Goal: median overhead <= 2 ms for 2 cameras at 256x256 + state + a 50x6
chunk on loopback.

    python benchmarks/bench_protocol.py                  # default sizes 64,128,256,480,640
    python benchmarks/bench_protocol.py --iters 500 --sizes 256 --format flat

Prints medians (and p90) per image size, and the overhead and ratio against the direct call, with the machine's
load average (the latency of a loopback round trip depends on it: quote both).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from so101_sim.serving import PolicyClient, PolicyFeatures, PolicyServer, PolicyService, ProtocolMapping

CHUNK, ACTION_DIM, STATE_DIM = 50, 6, 6
CAMERAS = ("front", "wrist")


class ConstantChunkPolicy:
    """The cheapest possible policy: returns a precomputed (B, 50, 6) chunk. Same cost in both arms."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.chunk = np.linspace(-1, 1, CHUNK * ACTION_DIM, dtype=np.float32).reshape(1, CHUNK, ACTION_DIM)

    def features(self) -> PolicyFeatures:
        cams = {f"observation.images.{c}": (self.size, self.size) for c in CAMERAS}
        return PolicyFeatures(cams, STATE_DIM, ACTION_DIM, CHUNK)

    def predict_chunk(self, images, state, task):
        return np.repeat(self.chunk, state.shape[0], axis=0)

    def reset(self) -> None:
        pass


def _serve(size: int, port_queue) -> None:
    server = PolicyServer(PolicyService(ConstantChunkPolicy(size)), "127.0.0.1", 0)
    port_queue.put(server.port)
    server.serve_forever()


def _timed(fn, iters: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def _p90(xs: list[float]) -> float:
    return float(np.percentile(xs, 90))


def bench_size(size: int, iters: int, warmup: int, fmt: str) -> dict[str, float]:
    rng = np.random.default_rng(0)
    images = {c: rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8) for c in CAMERAS}
    state = rng.normal(size=(1, STATE_DIM)).astype(np.float32)
    task = "pick up the red cube"

    policy = ConstantChunkPolicy(size)
    lerobot_images = {f"observation.images.{c}": v for c, v in images.items()}
    direct = _timed(lambda: policy.predict_chunk(lerobot_images, state, [task]), iters, warmup)

    ctx = mp.get_context("spawn")
    ports = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(size, ports), daemon=True)
    proc.start()
    try:
        port = ports.get(timeout=60)
        with PolicyClient("127.0.0.1", port, timeout_ms=10000, mapping=ProtocolMapping(format=fmt)) as client:
            assert client.ping()
            out = client.get_action_chunk(images, state, task)
            assert out.shape == (1, CHUNK, ACTION_DIM)
            remote = _timed(lambda: client.get_action_chunk(images, state, task), iters, warmup)
            client.kill_server()
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
            proc.join()
    d, r = statistics.median(direct), statistics.median(remote)
    mb = 2 * size * size * 3 / 1e6
    return {
        "size": size,
        "payload_mb": mb,
        "direct_ms": d,
        "protocol_ms": r,
        "protocol_p90_ms": _p90(remote),
        "overhead_ms": r - d,
        "ratio": r / d if d > 0 else float("inf"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="64,128,256,480,640", help="square image sizes, comma separated")
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--format", choices=("nested", "flat"), default="nested")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"2 cameras (uint8 HxWx3) + state ({STATE_DIM}) -> chunk ({CHUNK}x{ACTION_DIM}); "
        f"{args.iters} calls per arm, {args.format} layout, server in a separate process on 127.0.0.1"
    )
    print(
        f"{'size':>6} {'MB/req':>7} {'direct ms':>10} {'protocol ms':>12} {'p90 ms':>8} {'overhead ms':>12} {'ratio':>8}"
    )
    rows = []
    for size in sizes:
        row = bench_size(size, args.iters, args.warmup, args.format)
        rows.append(row)
        print(
            f"{size:>6} {row['payload_mb']:>7.2f} {row['direct_ms']:>10.4f} {row['protocol_ms']:>12.3f} "
            f"{row['protocol_p90_ms']:>8.3f} {row['overhead_ms']:>12.3f} {row['ratio']:>8.0f}x",
            flush=True,
        )
    print(f"load average (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    goal = [r for r in rows if r["size"] == 256]
    if goal:
        ok = goal[0]["overhead_ms"] <= 2.0
        print(
            f"goal (256x256, median overhead <= 2 ms): {goal[0]['overhead_ms']:.3f} ms -> {'met' if ok else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
