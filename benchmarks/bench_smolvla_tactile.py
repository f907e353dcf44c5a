#!/usr/bin/env python
"""Overhead of smolvla_tactile (touch tokens + arm/hand feature enhancement) over stock SmolVLA.

Both policies use the full SmolVLA architecture over SmolVLM2-500M dimensions (random weights from a local
config, so nothing is downloaded) at the real image size (512), measured in the same run, interleaved in
rounds so that clock drift hits both alike:

- train step time (forward + backward + AdamW step, lerobot-train's work per step) at batch 8 and 64;
- inference latency per action chunk (``predict_action_chunk``: prefix + ``num_steps`` denoising steps), batch 1.

Medians are printed with the overhead ratios against the goals (train <= 5 %, inference <= 3 %).

    python benchmarks/bench_smolvla_tactile.py                 # CUDA if available (e.g. one H200)
    python benchmarks/bench_smolvla_tactile.py --amp           # bf16 autocast, as with --policy.use_amp=true
    python benchmarks/bench_smolvla_tactile.py --tiny          # CPU smoke check with a tiny VLM
    python benchmarks/bench_smolvla_tactile.py --count         # FLOPs and aten op counts, no timing

``--count`` is a load-independent view (useful on a busy CPU): FLOPs and the number of aten operators (each one
a kernel launch on a GPU, which is what batch-1 inference is bound by) of one train step and one action chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy
from lerobot_policy_smolvla_tactile.configuration_smolvla_tactile import SmolVLATactileConfig
from lerobot_policy_smolvla_tactile.local_smolvlm import image_size_of, write_local_smolvlm
from lerobot_policy_smolvla_tactile.modeling_smolvla_tactile import SmolVLATactilePolicy
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

TACTILE_KEY = "observation.tactile.force_grid"
STATE_DIM, ACTION_DIM = 27, 7


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny VLM and small images: a quick CPU smoke check")
    p.add_argument("--device", default=None, help="cuda / cpu (default: cuda when available)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 64], help="train batch sizes")
    p.add_argument("--train-iters", type=int, default=None, help="timed train steps per policy (default 30, tiny 6)")
    p.add_argument("--infer-iters", type=int, default=None, help="timed action chunks per policy (default 50, tiny 6)")
    p.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default 5, tiny 2)")
    p.add_argument("--rounds", type=int, default=5, help="alternate stock/tactile this many times")
    p.add_argument("--cameras", type=int, default=2, help="real cameras (plus one empty camera, as in the tests)")
    p.add_argument("--camera-hw", type=int, nargs=2, default=[480, 640], help="camera frame size before resize")
    p.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    p.add_argument("--vlm-dir", type=Path, default=None, help="reuse a local SmolVLM directory (else a temp one)")
    p.add_argument("--count", action="store_true", help="count FLOPs and aten ops of one step / chunk instead of timing")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    return p.parse_args()


def policy_configs(vlm_dir: Path, args: argparse.Namespace, device: str) -> tuple[SmolVLAConfig, SmolVLATactileConfig]:
    size = "tiny" if args.tiny else "500m"
    h, w = (32, 32) if args.tiny else args.camera_hw
    inputs = {"observation.state": PolicyFeature(FeatureType.STATE, (STATE_DIM,))}
    for i in range(args.cameras):
        inputs[f"observation.images.camera{i + 1}"] = PolicyFeature(FeatureType.VISUAL, (3, h, w))
    inputs[TACTILE_KEY] = PolicyFeature(FeatureType.STATE, (2, 10, 12, 3))
    outputs = {"action": PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))}
    common = {
        "vlm_model_name": str(vlm_dir), "resize_imgs_with_padding": (image_size_of(size),) * 2, "empty_cameras": 1,
        "device": device, "input_features": dict(inputs), "output_features": dict(outputs),
    }  # fmt: skip
    if args.tiny:
        common.update(chunk_size=10, n_action_steps=10, num_steps=3)
    stock = SmolVLAConfig(**common)
    common["input_features"] = dict(inputs)
    tactile = SmolVLATactileConfig(
        **common, use_tactile=True, num_fingertips=2, use_arm_hand_feature_enhancement=True,
        arm_indices=[0, 1, 2, 3, 4, 5], hand_indices=[6], aux_loss_lambda=1.0,
    )  # fmt: skip
    return stock, tactile


def make_batch(cfg: SmolVLAConfig, bsize: int, device: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(bsize)
    batch: dict[str, torch.Tensor] = {
        "observation.state": torch.randn(bsize, STATE_DIM, generator=g),
        "observation.language.tokens": torch.randint(0, 250, (bsize, cfg.tokenizer_max_length), generator=g),
        "observation.language.attention_mask": torch.ones(bsize, cfg.tokenizer_max_length, dtype=torch.bool),
        "action": torch.randn(bsize, cfg.chunk_size, ACTION_DIM, generator=g),
        "action_is_pad": torch.zeros(bsize, cfg.chunk_size, dtype=torch.bool),
        TACTILE_KEY: torch.randn(bsize, 2, 10, 12, 3, generator=g),
    }
    for key, ft in cfg.input_features.items():
        if ft.type is FeatureType.VISUAL and "empty_camera" not in key:
            batch[key] = torch.rand(bsize, *ft.shape, generator=g)
    return {k: v.to(device) for k, v in batch.items()}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class TrainStep:
    def __init__(self, policy, device: str, amp: bool):
        self.policy = policy.train()
        self.device = device
        self.amp = amp
        params = [p for p in policy.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.95), weight_decay=1e-10)
        self.params = params

    def __call__(self, batch) -> None:
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()
        with ctx:
            loss, _ = self.policy.forward(dict(batch))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 10.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)


class ChunkInference:
    def __init__(self, policy, amp: bool):
        self.policy = policy.eval()
        self.amp = amp

    @torch.no_grad()
    def __call__(self, batch) -> None:
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()
        with ctx:
            self.policy.predict_action_chunk(dict(batch))


def timed(fn, batch, iters: int, device: str) -> list[float]:
    out = []
    for _ in range(iters):
        sync(device)
        t0 = time.perf_counter()
        fn(batch)
        sync(device)
        out.append(time.perf_counter() - t0)
    return out


def compare(fns: dict, batch, iters: int, warmup: int, rounds: int, device: str) -> dict[str, float]:
    for fn in fns.values():
        timed(fn, batch, warmup, device)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    per_round = max(1, iters // rounds)
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name] += timed(fn, batch, per_round, device)
    return {name: statistics.median(v) * 1000 for name, v in samples.items()}


class _OpCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def count(fn, batch) -> tuple[float, int]:
    """GFLOPs and aten operator calls of one call of ``fn``."""
    with FlopCounterMode(display=False) as flops, _OpCounter() as ops:
        fn(batch)
    return flops.get_total_flops() / 1e9, ops.ops


def report_counts(stock, tactile, tactile_cfg, args, device: str, amp: bool) -> dict:
    out: dict = {}
    for label, bsize, make in [
        *[(f"train step  batch {b:3d}", b, lambda p: TrainStep(p, device, amp)) for b in args.batch_sizes],
        ("inference   batch   1", 1, lambda p: ChunkInference(p, amp)),
    ]:
        batch = make_batch(tactile_cfg, bsize, device)
        (f_s, o_s), (f_t, o_t) = count(make(stock), batch), count(make(tactile), batch)
        out[label] = {"stock_gflop": f_s, "tactile_gflop": f_t, "stock_ops": o_s, "tactile_ops": o_t}
        print(f"{label}: GFLOP stock {f_s:10.1f} tactile {f_t:10.1f} ({(f_t / f_s - 1) * 100:+.2f} %)   "
              f"aten ops stock {o_s:6d} tactile {o_t:6d} ({(o_t / o_s - 1) * 100:+.2f} %)")
    return out


def main() -> int:
    args = parse_args()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    train_iters = args.train_iters or (6 if args.tiny else 30)
    infer_iters = args.infer_iters or (6 if args.tiny else 50)
    warmup = args.warmup if args.warmup is not None else (2 if args.tiny else 5)
    rounds = min(args.rounds, train_iters)
    amp = args.amp and device.startswith("cuda")
    with tempfile.TemporaryDirectory() as tmp:
        vlm_dir = args.vlm_dir or write_local_smolvlm(Path(tmp) / "smolvlm", size="tiny" if args.tiny else "500m")
        stock_cfg, tactile_cfg = policy_configs(vlm_dir, args, device)
        torch.manual_seed(0)
        stock = SmolVLAPolicy(stock_cfg).to(device)
        tactile = SmolVLATactilePolicy(tactile_cfg).to(device)
    n_params = {name: sum(p.numel() for p in pol.parameters()) for name, pol in (("stock", stock), ("tactile", tactile))}
    n_train = {
        name: sum(p.numel() for p in pol.parameters() if p.requires_grad)
        for name, pol in (("stock", stock), ("tactile", tactile))
    }
    gpu = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    print(f"device: {gpu}  torch {torch.__version__}  amp(bf16): {amp}  {'TINY smoke check' if args.tiny else 'SmolVLM2-500M dims'}")
    print(f"image size {stock_cfg.resize_imgs_with_padding}, cameras {args.cameras}+1 empty, chunk {stock_cfg.chunk_size}, "
          f"denoise steps {stock_cfg.num_steps}")
    print(f"params: stock {n_params['stock'] / 1e6:.1f} M ({n_train['stock'] / 1e6:.1f} M trainable), "
          f"tactile {n_params['tactile'] / 1e6:.1f} M ({n_train['tactile'] / 1e6:.1f} M trainable)")

    results: dict = {"device": gpu, "amp": amp, "tiny": args.tiny, "params": n_params, "trainable": n_train, "train": {}}
    if args.count:
        results["counts"] = report_counts(stock, tactile, tactile_cfg, args, device, amp)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    for bsize in args.batch_sizes:
        batch = make_batch(tactile_cfg, bsize, device)
        fns = {"stock": TrainStep(stock, device, amp), "tactile": TrainStep(tactile, device, amp)}
        med = compare(fns, batch, train_iters, warmup, rounds, device)
        ratio = med["tactile"] / med["stock"] - 1
        results["train"][bsize] = {**med, "overhead": ratio}
        print(f"train step  batch {bsize:3d}: stock {med['stock']:9.2f} ms  tactile {med['tactile']:9.2f} ms  "
              f"overhead {ratio * 100:+6.2f} %  (goal <= 5 %)")
        del fns, batch
        if device.startswith("cuda"):
            torch.cuda.empty_cache()

    batch = make_batch(tactile_cfg, 1, device)
    fns = {"stock": ChunkInference(stock, amp), "tactile": ChunkInference(tactile, amp)}
    med = compare(fns, batch, infer_iters, warmup, rounds, device)
    ratio = med["tactile"] / med["stock"] - 1
    results["inference"] = {**med, "overhead": ratio}
    print(f"inference   batch   1: stock {med['stock']:9.2f} ms  tactile {med['tactile']:9.2f} ms  "
          f"overhead {ratio * 100:+6.2f} %  (goal <= 3 %)  [per action chunk of {stock_cfg.chunk_size}]")
    if args.tiny:
        print("(--tiny: a smoke check; the ratios mean nothing, the added modules outweigh the tiny model)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
