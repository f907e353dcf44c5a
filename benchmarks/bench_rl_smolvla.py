#!/usr/bin/env python
"""ReinFlow on SmolVLA at real dimensions: rollout decisions/s, PPO samples/s, peak memory, bf16 drift.

SmolVLA over SmolVLM2-500M dimensions (random weights from a local config, nothing downloaded), 3 cameras at
512 x 512, 12 language tokens, chunk 50 padded to 32 action dims, 10 executed steps x 6 joints scored, driven
through :class:`so101_sim.rl.adapters.smolvla.SmolVLAAdapter` and the chain core (:mod:`so101_sim.rl.chain`).
The VLM runs in bf16, the trained expert + projections + noise head in fp32 (the adapter's default on GPU).

Per batch size B and denoising steps K:

- rollout: one decision for B envs = the prefix KV cache (``encode``) + the K-step noisy chain; decisions/s =
  B / time. Baseline in the same run: stock ``VLAFlowMatching.sample_actions`` at the same B and K (what
  ``lerobot-eval`` runs), so the ratio is the price of the noise head and the log-prob bookkeeping.
- update: re-scoring B stored chains with gradient on the cached prefix, backward, AdamW step (one PPO
  minibatch of B); PPO samples/s = B / time, and the peak GPU memory of it. Baseline: one stock flow-matching
  training step (``SmolVLAPolicy.forward`` + backward + AdamW on the same trainable set, prefix recomputed).
- drift: a B=64 rollout re-scored (no update) in shuffled minibatches of 8/16/32/64; max |Δ log π| of the chain
  (sum over the K x 10 x 6 scored terms), for an fp32 expert and a bf16 expert. This is the PPO ratio "before any
  update" that the trainer's pi_old recomputation exists to remove.

    python benchmarks/bench_rl_smolvla.py                        # CUDA (e.g. one H200), the full grid
    python benchmarks/bench_rl_smolvla.py --quick                # B in {16, 64}, K in {4, 10}
    python benchmarks/bench_rl_smolvla.py --tiny                 # CPU smoke check with a tiny VLM
    python benchmarks/bench_rl_smolvla.py --out results/         # also writes bench_rl_smolvla.json there

Figures measured on one H200 are in docs/rl.md (SmolVLA section).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "plugins" / "lerobot_policy_smolvla_tactile" / "src"):
    if str(extra) not in sys.path:  # a plain checkout (e.g. on a GPU box) works without installing the plugin
        sys.path.insert(0, str(extra))

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy
from lerobot_policy_smolvla_tactile.local_smolvlm import image_size_of, write_local_smolvlm

from so101_sim.rl.adapters.smolvla import SmolVLAAdapter
from so101_sim.rl.chain import ReinFlowChain, reduce_logp
from so101_sim.rl.protocol import tree_index

CAMERAS, STATE_DIM, ACTION_DIM, LANG_TOKENS, N_EXEC = 3, 6, 6, 12, 10


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny VLM, 32 px images, small batches: CPU smoke check")
    p.add_argument("--quick", action="store_true", help="B in {16, 64}, K in {4, 10}")
    p.add_argument("--device", default=None, help="cuda / cpu (default: cuda when available)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="default 1 16 64 256 (tiny: 2 4)")
    p.add_argument("--ks", type=int, nargs="+", default=None, help="denoising steps, default 1 2 4 10")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement (default 3)")
    p.add_argument(
        "--max-update-bk",
        type=int,
        default=1500,
        help="skip updates with B*K above this (about 62 MiB per sample per step: B=256,K=10 OOMs)",
    )
    p.add_argument("--drift-batch", type=int, default=None, help="rollout batch of the drift test (default 64)")
    p.add_argument("--drift-ks", type=int, nargs="+", default=None, help="K of the drift test (default 4 10)")
    p.add_argument("--no-drift", action="store_true", help="skip the bf16 vs fp32 drift test")
    p.add_argument("--out", type=Path, default=None, help="directory for bench_rl_smolvla.json")
    return p.parse_args()


class Results:
    """Collects rows and rewrites the JSON after each one (a killed run still leaves what it measured)."""

    def __init__(self, out_dir: Path | None, meta: dict) -> None:
        self.path = out_dir / "bench_rl_smolvla.json" if out_dir else None
        self.data = {"meta": meta, "grid": [], "drift": []}
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, section: str, row: dict) -> None:
        self.data[section].append(row)
        print(json.dumps(row), flush=True)
        if self.path:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1))
            tmp.replace(self.path)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def build_policy(vlm_dir: Path, tiny: bool, device: torch.device) -> SmolVLAPolicy:
    size = "tiny" if tiny else "500m"
    hw = 32 if tiny else 480
    inputs = {"observation.state": PolicyFeature(FeatureType.STATE, (STATE_DIM,))}
    for i in range(CAMERAS):
        inputs[f"observation.images.camera{i + 1}"] = PolicyFeature(FeatureType.VISUAL, (3, hw, hw))
    cfg = SmolVLAConfig(
        vlm_model_name=str(vlm_dir),
        resize_imgs_with_padding=(image_size_of(size),) * 2,
        n_action_steps=N_EXEC,
        device=device.type,
        input_features=inputs,
        output_features={"action": PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))},
    )
    with torch.device(device):  # build the 450 M parameters where they run
        policy = SmolVLAPolicy(cfg)
    return policy


def make_batch(policy: SmolVLAPolicy, bsize: int, device: torch.device, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator(device="cpu").manual_seed(seed)
    batch = {"observation.state": torch.randn(bsize, STATE_DIM, generator=g)}
    for key, feat in policy.config.image_features.items():
        batch[key] = torch.rand(bsize, *feat.shape, generator=g)
    batch["observation.language.tokens"] = torch.randint(0, 250, (bsize, LANG_TOKENS), generator=g)
    batch["observation.language.attention_mask"] = torch.ones(bsize, LANG_TOKENS, dtype=torch.bool)
    return {k: v.to(device) for k, v in batch.items()}


def stock_sample(adapter: SmolVLAAdapter, batch: dict, k: int) -> torch.Tensor:
    """What lerobot-eval runs per chunk: stock sample_actions (prefix + K Euler steps), no noise head."""
    policy = adapter.policy
    policy.config.num_steps = k
    images, img_masks = policy.prepare_images(batch)
    state = policy.prepare_state(batch).to(policy.model.state_proj.weight.dtype)
    with torch.no_grad():
        return policy.model.sample_actions(
            images, img_masks, batch["observation.language.tokens"],
            batch["observation.language.attention_mask"], state,
        )  # fmt: skip


def stock_train_step(adapter: SmolVLAAdapter, batch: dict, opt: torch.optim.Optimizer) -> None:
    """One stock flow-matching step (prefix recomputed, backward into the same trainable set)."""
    policy = adapter.policy
    images, img_masks = policy.prepare_images(batch)
    state = policy.prepare_state(batch).to(policy.model.state_proj.weight.dtype)
    actions = torch.randn(state.shape[0], policy.config.chunk_size, policy.config.max_action_dim, device=state.device)
    losses = policy.model.forward(
        images, img_masks, batch["observation.language.tokens"], batch["observation.language.attention_mask"],
        state, actions,
    )  # fmt: skip
    losses.mean().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def bench_stock_train(adapter: SmolVLAAdapter, batch: dict, args, device: torch.device) -> tuple[float | None, object]:
    """Median seconds and peak GiB of one stock flow-matching training step at this batch (independent of K)."""
    opt = torch.optim.AdamW(adapter.trainable_parameters(), lr=1e-9)
    reset_peak(device)
    try:
        seconds = timed(lambda: stock_train_step(adapter, batch, opt), device, args.repeats)
        return seconds, peak_gib(device)
    except torch.OutOfMemoryError:
        return None, "OOM"
    finally:
        opt.zero_grad(set_to_none=True)


def bench_one(adapter: SmolVLAAdapter, batch: dict, bsize: int, k: int, args, device: torch.device) -> dict:
    """Rollout (prefix + noisy chain), the stock sampler and one PPO minibatch update at (B, K)."""
    row: dict = {}
    chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=k, noise_hidden=(128, 64)).to(device)
    try:
        reset_peak(device)
        t_prefix = timed(lambda: adapter.encode_batch(batch), device, args.repeats)
        t_roll = timed(lambda: chain.sample(adapter, adapter.encode_batch(batch), bsize), device, args.repeats)
        row["rollout_peak_gib"] = peak_gib(device)
        t_stock = timed(lambda: stock_sample(adapter, batch, k), device, args.repeats)
    except torch.OutOfMemoryError:
        row["rollout_ms"] = "OOM"
        return row
    row.update(
        prefix_ms=1e3 * t_prefix, rollout_ms=1e3 * t_roll, stock_sample_ms=1e3 * t_stock,
        rollout_over_stock=t_roll / t_stock, decisions_per_s=bsize / t_roll, env_steps_per_s=bsize * N_EXEC / t_roll,
    )  # fmt: skip
    if bsize * k > args.max_update_bk:
        row["update_ms"] = f"skipped (B*K > {args.max_update_bk})"
        return row
    ctx = adapter.encode_batch(batch)
    sample = chain.sample(adapter, ctx, bsize)
    opt = torch.optim.AdamW([*adapter.trainable_parameters(), *chain.parameters()], lr=1e-9)

    def fwd_bwd() -> None:
        score = chain.score(adapter, ctx, sample.chain)
        (-reduce_logp(score.logp, chain.mask, "mean").mean()).backward()

    def fwd_bwd_clear() -> None:
        fwd_bwd()
        opt.zero_grad(set_to_none=True)

    def ppo_step() -> None:
        fwd_bwd()
        opt.step()
        opt.zero_grad(set_to_none=True)

    try:
        reset_peak(device)
        t_fb = timed(fwd_bwd_clear, device, args.repeats)
        t_step = timed(ppo_step, device, args.repeats)
        row.update(update_ms=1e3 * t_fb, update_with_adamw_ms=1e3 * t_step, update_peak_gib=peak_gib(device),
                   ppo_samples_per_s=bsize / t_step)  # fmt: skip
    except torch.OutOfMemoryError:
        row["update_ms"] = "OOM"
    finally:
        opt.zero_grad(set_to_none=True)
    return row


def bench_grid(adapter: SmolVLAAdapter, args, device: torch.device, results: Results) -> None:
    for bsize in args.batch_sizes:
        batch = make_batch(adapter.policy, bsize, device, seed=bsize)
        t_bc, bc_peak = bench_stock_train(adapter, batch, args, device)
        for k in args.ks:
            row = {"B": bsize, "K": k, "stock_train_step_ms": None if t_bc is None else 1e3 * t_bc,
                   "stock_train_peak_gib": bc_peak}  # fmt: skip
            row.update(bench_one(adapter, batch, bsize, k, args, device))
            if t_bc is not None and isinstance(row.get("update_with_adamw_ms"), float):
                row["update_over_stock_train"] = row["update_with_adamw_ms"] / (1e3 * t_bc)
            results.add("grid", row)
            reset_peak(device)


def bench_drift(adapter: SmolVLAAdapter, args, device: torch.device, results: Results, expert: str) -> None:
    """Max |Δ log π| between the rollout and re-scores in shuffled minibatches (no weights changed)."""
    bsize = args.drift_batch
    batch = make_batch(adapter.policy, bsize, device, seed=7)
    for k in args.drift_ks:
        torch.manual_seed(k)
        chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=k, noise_hidden=(128, 64)).to(device)
        with torch.no_grad():  # a noise head that is not all-zero at its output layer
            for p in chain.noise_head.parameters():
                p.add_(0.05 * torch.randn_like(p))
            ctx = adapter.encode_batch(batch)
            sample = chain.sample(adapter, ctx, bsize)
            roll = reduce_logp(sample.logp, chain.mask, "sum")
            for mb in sorted({s for s in (8, 16, 32, bsize) if s <= bsize}):
                perm = torch.randperm(bsize, device=device)
                worst, worst_coord = 0.0, 0.0
                for idx in perm.split(mb):
                    sc = chain.score(adapter, tree_index(ctx, idx), sample.chain[idx])
                    worst = max(worst, float((reduce_logp(sc.logp, chain.mask, "sum") - roll[idx]).abs().max()))
                    worst_coord = max(worst_coord, float((sc.logp - sample.logp[idx]).abs().max()))
                results.add("drift", {
                    "expert": expert, "K": k, "rollout_B": bsize, "minibatch": mb, "scored_terms": chain.n_scored,
                    "max_abs_dlogp_chain": worst, "max_abs_dlogp_coord": worst_coord,
                    "first_ratio_if_not_recomputed": float(torch.exp(torch.tensor(worst))),
                    "chain_logp_mean": float(roll.mean()),
                })  # fmt: skip


@contextmanager
def bf16_expert(policy: SmolVLAPolicy) -> Iterator[None]:
    """The trained modules (but action_out_proj, which stock feeds fp32) in bf16, restored exactly afterwards."""
    names = ("vlm_with_expert.lm_expert", "action_in_proj", "action_time_mlp_in", "action_time_mlp_out")
    modules = []
    for name in names:
        module = policy.model
        for part in name.split("."):
            module = getattr(module, part)
        modules.append(module)
    saved = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules]
    try:
        for m in modules:
            m.to(torch.bfloat16)
        yield
    finally:
        for m, state in zip(modules, saved, strict=True):
            m.to(torch.float32)
            m.load_state_dict(state)


def print_tables(data: dict) -> None:
    def f(v, fmt="{:.0f}"):
        return fmt.format(v) if isinstance(v, float) else str(v)

    print("\nSmolVLA ReinFlow, real dimensions (3 cameras 512 px, chunk 50, 10 x 6 scored per step); medians")
    print(f"{'B':>4} {'K':>3} | {'prefix':>7} {'rollout':>8} {'stock':>7} {'ratio':>6} {'dec/s':>7} | "
          f"{'update':>7} {'+adamw':>7} {'smp/s':>7} {'peak GiB':>8} {'BC step':>8} {'ratio':>6}")  # fmt: skip
    for r in data["grid"]:
        print(
            f"{r['B']:>4} {r['K']:>3} | {f(r.get('prefix_ms')):>7} {f(r.get('rollout_ms')):>8} "
            f"{f(r.get('stock_sample_ms')):>7} {f(r.get('rollout_over_stock'), '{:.2f}'):>6} "
            f"{f(r.get('decisions_per_s'), '{:.1f}'):>7} | {f(r.get('update_ms')):>7} "
            f"{f(r.get('update_with_adamw_ms')):>7} {f(r.get('ppo_samples_per_s'), '{:.1f}'):>7} "
            f"{f(r.get('update_peak_gib'), '{:.1f}'):>8} {f(r.get('stock_train_step_ms')):>8} "
            f"{f(r.get('update_over_stock_train'), '{:.2f}'):>6}"
        )
    if data["drift"]:
        print(f"\nRe-score drift before any update (rollout B={data['drift'][0]['rollout_B']}, shuffled minibatches)")
        print(f"{'expert':>8} {'K':>3} {'mb':>4} {'max|dlogp| chain':>17} {'per coord':>10} {'ratio':>7}")
        for r in data["drift"]:
            print(f"{r['expert']:>8} {r['K']:>3} {r['minibatch']:>4} {r['max_abs_dlogp_chain']:>17.4g} "
                  f"{r['max_abs_dlogp_coord']:>10.3g} {r['first_ratio_if_not_recomputed']:>7.3f}")  # fmt: skip


def main() -> None:
    args = parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.tiny:
        args.batch_sizes = args.batch_sizes or [2, 4]
        args.ks = args.ks or [1, 2]
        args.drift_batch = args.drift_batch or 8
        args.drift_ks = args.drift_ks or [2]
    elif args.quick:
        args.batch_sizes = args.batch_sizes or [16, 64]
        args.ks = args.ks or [4, 10]
    args.batch_sizes = args.batch_sizes or [1, 16, 64, 256]
    args.ks = args.ks or [1, 2, 4, 10]
    args.repeats = args.repeats or (2 if args.tiny else 3)
    args.drift_batch = args.drift_batch or 64
    args.drift_ks = args.drift_ks or [4, 10]
    meta = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "vlm": "tiny" if args.tiny else "SmolVLM2-500M-shaped (random weights)",
        "vlm_dtype": "bfloat16" if device.type == "cuda" else "float32", "cameras": CAMERAS,
        "lang_tokens": LANG_TOKENS, "n_exec": N_EXEC, "repeats": args.repeats,
    }  # fmt: skip
    print(json.dumps(meta), flush=True)
    results = Results(args.out, meta)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        vlm_dir = write_local_smolvlm(Path(tmp) / "smolvlm", "tiny" if args.tiny else "500m")
        policy = build_policy(vlm_dir, args.tiny, device)
        vlm_dtype = "bfloat16" if device.type == "cuda" else None
        adapter = SmolVLAAdapter(policy, None, None, device=device, vlm_dtype=vlm_dtype, n_exec=N_EXEC)
        n_train = sum(p.numel() for p in adapter.trainable_parameters())
        n_all = sum(p.numel() for p in policy.parameters())
        results.data["meta"].update(params_total=n_all, params_trainable=n_train, prefix_length=adapter.prefix_length,
                                    build_s=time.perf_counter() - t0)  # fmt: skip
        print(f"built in {time.perf_counter() - t0:.1f} s: {n_all / 1e6:.1f} M parameters, "
              f"{n_train / 1e6:.2f} M trained, prefix cache length {adapter.prefix_length}", flush=True)  # fmt: skip
        if not args.no_drift:
            bench_drift(adapter, args, device, results, "fp32")
            with bf16_expert(policy):
                bench_drift(adapter, args, device, results, "bf16")
        bench_grid(adapter, args, device, results)
    print_tables(results.data)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
