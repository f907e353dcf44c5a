"""Fast in-memory behaviour cloning of ``flow_mlp`` from a state-only LeRobot dataset (``so101-sim rl bc``).

Stock ``lerobot-train --policy.type=flow_mlp`` trains the same policy with the same loss (``FlowMLPPolicy.forward``);
on a small CPU it spends most of its time in per-item dataset queries. This loads the (state-only) dataset's
columns once, builds every action chunk (padded past the episode end and masked, like lerobot's
``action_is_pad``) and trains on tensors. The output is an ordinary ``flow_mlp`` checkpoint (config, weights,
processors with the dataset's normalisation stats) that ``lerobot-eval`` and ``so101-sim rl train`` load.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm


@dataclass
class BCOptions:
    dataset_root: Path
    repo_id: str = "local/so101_sim_lift"
    output: Path = Path("outputs/bc/flow_mlp")
    steps: int = 3000
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0
    policy_overrides: dict[str, Any] = field(default_factory=dict)  # FlowMLPConfig fields
    progress: bool = True


def _chunks(actions: np.ndarray, episodes: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, horizon, A) future actions from each frame within its episode, and (N, horizon) padding flags."""
    n = len(actions)
    idx = np.arange(n)[:, None] + np.arange(horizon)[None]
    ends = np.zeros(n, dtype=int)
    for ep in np.unique(episodes):
        rows = np.nonzero(episodes == ep)[0]
        ends[rows] = rows.max()
    pad = idx > ends[:, None]
    idx = np.minimum(idx, ends[:, None])  # padded steps repeat the last action (masked out of the loss)
    return actions[idx], pad


def train_bc(opts: BCOptions) -> Path:
    from lerobot.configs.types import FeatureType
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    import so101_sim.lerobot  # noqa: F401 - registers flow_mlp
    from so101_sim.lerobot.compat import feature_utils
    from so101_sim.lerobot.policy.configuration_flow_mlp import FlowMLPConfig
    from so101_sim.lerobot.policy.modeling_flow_mlp import FlowMLPPolicy
    from so101_sim.lerobot.policy.processor_flow_mlp import make_flow_mlp_pre_post_processors

    torch.manual_seed(opts.seed)
    ds = LeRobotDataset(opts.repo_id, root=opts.dataset_root)
    features = feature_utils().dataset_to_policy_features(ds.meta.features)
    visual = [k for k, f in features.items() if f.type is FeatureType.VISUAL]
    if visual:
        raise ValueError(
            f"{opts.dataset_root}: so101-sim rl bc trains state-only flow_mlp policies, but the dataset has image "
            f"features {visual}; record with --state-only, or train with lerobot-train --policy.type=flow_mlp"
        )
    cfg = FlowMLPConfig(device="cpu", push_to_hub=False, **opts.policy_overrides)
    cfg.output_features = {k: f for k, f in features.items() if f.type is FeatureType.ACTION}
    cfg.input_features = {k: f for k, f in features.items() if k not in cfg.output_features}
    stats = {k: {s: torch.as_tensor(np.asarray(v), dtype=torch.float32) for s, v in d.items()} for k, d in ds.meta.stats.items()}
    pre, post = make_flow_mlp_pre_post_processors(cfg, dataset_stats=stats)
    policy = FlowMLPPolicy(cfg)

    cols = ds.hf_dataset.with_format("numpy")
    episodes = np.asarray(cols["episode_index"])
    data: dict[str, Any] = {k: torch.as_tensor(np.stack(cols[k]), dtype=torch.float32) for k in cfg.vector_keys}
    act, pad = _chunks(np.stack(cols["action"]).astype(np.float32), episodes, cfg.chunk_size)
    data["action"] = torch.as_tensor(act)
    data = pre(data)  # normalise once (mean/std from the dataset)
    data["action_is_pad"] = torch.as_tensor(pad)
    n = len(episodes)

    opt = torch.optim.AdamW(policy.parameters(), lr=opts.lr, weight_decay=cfg.optimizer_weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=opts.steps, eta_min=opts.lr * 0.1)
    gen = torch.Generator().manual_seed(opts.seed)
    policy.train()
    t0 = time.perf_counter()
    bar = tqdm(range(opts.steps), desc="bc flow_mlp", unit="step", disable=not opts.progress)
    loss_ema = None
    for _ in bar:
        idx = torch.randint(0, n, (opts.batch_size,), generator=gen)
        loss, _ = policy.forward({k: v[idx] for k, v in data.items() if isinstance(v, torch.Tensor)})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        lv = float(loss.detach())
        loss_ema = lv if loss_ema is None else 0.98 * loss_ema + 0.02 * lv
        bar.set_postfix(loss=f"{loss_ema:.4f}")
    policy.eval()
    out = Path(opts.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        raise FileExistsError(f"{out} already exists (nothing was changed); choose another --output")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        policy.save_pretrained(tmp)
        pre.save_pretrained(tmp)
        post.save_pretrained(tmp)
        (tmp / "bc_info.json").write_text(
            __import__("json").dumps(
                {"dataset": str(opts.dataset_root), "episodes": len(np.unique(episodes)), "frames": int(n),
                 "steps": opts.steps, "final_loss_ema": loss_ema, "seconds": round(time.perf_counter() - t0, 1)},
                indent=2,
            )
        )  # fmt: skip
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
