"""Per-iteration RL statistics: CSV (always), TensorBoard (when installed), the success plot, ``rl stats``.

Columns of ``stats.csv`` (one row per iteration; empty where not measured that iteration):

- ``iteration``, ``env_steps`` (cumulative), ``seconds`` (cumulative wall time)
- ``train_success`` / ``train_return`` / ``episodes``: episodes that ENDED during the iteration's rollout
  (noisy chain, i.e. with exploration noise), and their outcome counts ``no_contact``/``slip``/``not_high_enough``
- ``eval_success``, ``eval_wilson_lower``: held-out seeds through LeRobot's eval loop (deterministic ODE)
- ``sigma_mean``, ``approx_kl`` (per scored coordinate), ``clip_frac``, ``value_loss``, ``policy_loss``,
  ``entropy``, ``logp_drift`` (rollout vs re-score), ``first_ratio_err``, ``actor_epochs``
- ``collector_steps_per_s`` (env steps per second of the collector, policy included), ``env_steps_per_s``
  (the vector env's own step time only)
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

COLUMNS = [
    "iteration", "env_steps", "seconds", "train_success", "train_return", "episodes",
    "no_contact", "slip", "not_high_enough", "eval_success", "eval_wilson_lower",
    "sigma_mean", "approx_kl", "clip_frac", "value_loss", "policy_loss", "entropy", "logp_drift",
    "first_ratio_err", "actor_epochs", "value_mean", "collector_steps_per_s", "env_steps_per_s",
]  # fmt: skip


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class StatsLog:
    """Rows in memory, rewritten to ``stats.csv`` atomically after each iteration; TensorBoard if available."""

    def __init__(self, out_dir: Path, rows: list[dict[str, Any]] | None = None, tensorboard: bool = True) -> None:
        self.out_dir = Path(out_dir)
        self.rows: list[dict[str, Any]] = list(rows or [])
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.out_dir / "tensorboard"))
            except ImportError:  # tensorboard is optional: CSV is always written
                self._tb = None

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.write()
        if self._tb is not None:
            for k, v in row.items():
                if k != "iteration" and isinstance(v, (int, float)):
                    self._tb.add_scalar(f"rl/{k}", v, row["iteration"])
            self._tb.flush()

    def write(self) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: _fmt(r.get(k)) for k in COLUMNS})
        atomic_write_text(self.out_dir / "stats.csv", buf.getvalue())

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def read_stats(out_dir: Path) -> list[dict[str, Any]]:
    path = Path(out_dir) / "stats.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {out_dir} an 'so101-sim rl train' output directory?")
    rows = []
    with path.open() as f:
        for r in csv.DictReader(f):
            rows.append({k: (float(v) if v not in ("", None) else None) for k, v in r.items()})
    return rows


def plot_success(out_dir: Path, rows: list[dict[str, Any]] | None = None) -> Path:
    """``success.png``: training success (with exploration) and held-out eval success vs iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows if rows is not None else read_stats(out_dir)
    it = [r["iteration"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    tr = [(r["iteration"], 100 * r["train_success"]) for r in rows if r.get("train_success") is not None]
    ev = [(r["iteration"], 100 * r["eval_success"]) for r in rows if r.get("eval_success") is not None]
    if tr:
        ax.plot(*zip(*tr), "-", color="tab:blue", label="rollout episodes (with exploration noise)")
    if ev:
        ax.plot(*zip(*ev), "o-", color="tab:red", label="held-out seeds, deterministic ODE (LeRobot eval loop)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(-2, 102)
    if it:
        ax.set_xlim(min(it) - 0.5, max(it) + 0.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("so101-sim rl: success vs iteration")
    fig.tight_layout()
    out = Path(out_dir) / "success.png"
    tmp = out.with_name(".success.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, out)
    return out


def format_table(rows: list[dict[str, Any]]) -> str:
    """What ``so101-sim rl stats DIR`` prints: one line per iteration."""
    cols = [
        ("iteration", "iter", "{:>4.0f}"), ("env_steps", "env_steps", "{:>9.0f}"),
        ("train_success", "succ%", "{:>6.1%}"), ("eval_success", "eval%", "{:>6.1%}"),
        ("train_return", "return", "{:>7.3f}"), ("sigma_mean", "sigma", "{:>6.3f}"),
        ("approx_kl", "kl", "{:>8.2e}"), ("clip_frac", "clip", "{:>5.2f}"),
        ("value_loss", "v_loss", "{:>8.2e}"), ("logp_drift", "drift", "{:>7.1e}"),
    ]  # fmt: skip
    head = " ".join(f"{h:>{len(f.format(0.0))}}" for _, h, f in cols)
    lines = [head]
    for r in rows:
        cells = []
        for key, _, f in cols:
            v = r.get(key)
            width = len(f.format(0.0))
            cells.append(f.format(v) if v is not None else " " * (width - 1) + "-")
        lines.append(" ".join(cells))
    return "\n".join(lines)
