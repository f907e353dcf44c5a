"""PPO over ReinFlow chains: (T, N) rollout buffers, GAE per env column, the clipped update.

Rules this module enforces (each one a bug public SmolVLA/SO-101 RL runs lost time to):

- GAE runs down each env column separately. An episode that ended inside decision t (``done[t]``) does not
  pass its advantage on to decision t+1 (the next episode of that env). A *terminated* episode bootstraps 0; a
  *truncated* one (time limit) bootstraps V(final observation), read from the SAME_STEP vector env's
  ``final_info`` before the reset.
- pi_old is recomputed under ``no_grad`` in the update's own minibatch partition before the first gradient
  step (re-scoring in another batch layout can drift in low precision); the same partition is reused by every
  epoch. The rollout-vs-rescore drift is reported (``logp_drift``).
- Before the first ``backward()``, the ratio of the first minibatch must be 1 within ``ratio_check_tol`` per
  scored coordinate, else :class:`RatioCheckError` (a sampler/scorer mismatch: dropout, time grid, dtype).
- KL is measured per scored coordinate; an epoch whose mean KL exceeds ``target_kl`` stops the actor update.
- The adapter stays in eval mode throughout (no dropout while sampling, scoring or training).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from so101_sim.rl.chain import ReinFlowChain, reduce_logp
from so101_sim.rl.critic import PrivilegedCritic
from so101_sim.rl.protocol import Context, FlowPolicyAdapter, tree_index

RATIO_MODES = {"chain": "sum", "mean": "mean", "element": "element"}


class RatioCheckError(RuntimeError):
    """The first PPO ratio was not 1: the rollout and the update score chains differently."""


@dataclass
class PPOConfig:
    gamma: float = 0.99  # per decision (one decision = n_exec env steps)
    lam: float = 0.95
    clip: float = 0.2
    ratio_mode: str = "element"  # chain (one ratio per decision, summed log-prob) | mean | element
    epochs: int = 4
    minibatches: int = 4
    target_kl: float | None = 0.01  # per scored coordinate; None disables the early stop
    entropy_coef: float = 0.0
    max_grad_norm: float = 1.0
    value_epochs: int = 4
    ratio_check_tol: float = 1e-3
    normalize_advantages: bool = True
    # "bootstrap": an episode cut by the env's time limit is valued V(final observation) (the critic does not
    # know the limit); "terminal": it ends there (right when the critic reads the elapsed time, as ours does).
    truncation: str = "bootstrap"

    def __post_init__(self) -> None:
        if self.truncation not in ("bootstrap", "terminal"):
            raise ValueError(f"truncation must be 'bootstrap' or 'terminal', got {self.truncation!r}")
        if self.ratio_mode not in RATIO_MODES:
            raise ValueError(f"ratio_mode must be one of {sorted(RATIO_MODES)}, got {self.ratio_mode!r}")


@dataclass
class Rollout:
    """One iteration's data, decision-major: index [t, i] is decision t of env column i (T, N)."""

    contexts: list[Context]  # T contexts, each batch N
    chains: Tensor  # (T, N, K+1, H, D)
    logp: Tensor  # (T, N, K, H, D) per-entry log-density at rollout
    privileged: Tensor  # (T, N, P) critic input at each decision
    rewards: Tensor  # (T, N)
    dones: Tensor  # (T, N) bool: the env's episode ended during decision t
    terminated: Tensor  # (T, N) bool: ... by success/failure (no bootstrap)
    final_privileged: Tensor  # (T, N, P) the state the episode ended in (used where truncated)
    last_privileged: Tensor  # (N, P) state after the last decision (bootstrap of unfinished episodes)
    extras: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.rewards.shape)  # type: ignore[return-value]


def compute_gae(
    rewards: Tensor,
    values: Tensor,
    dones: Tensor,
    terminated: Tensor,
    final_values: Tensor,
    last_values: Tensor,
    gamma: float,
    lam: float,
) -> tuple[Tensor, Tensor]:
    """Advantages and returns (T, N), per env column.

    ``final_values[t, i]`` = V(final observation) of an episode truncated in decision t (ignored elsewhere);
    ``last_values[i]`` = V(observation after the last decision) for episodes still running at the end.
    """
    t_len = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    gae = torch.zeros_like(rewards[0])
    for t in reversed(range(t_len)):
        next_v = last_values if t == t_len - 1 else values[t + 1]
        done, term = dones[t].float(), terminated[t].float()
        bootstrap = (1.0 - done) * next_v + done * (1.0 - term) * final_values[t]
        delta = rewards[t] + gamma * bootstrap - values[t]
        gae = delta + gamma * lam * (1.0 - done) * gae
        adv[t] = gae
    return adv, adv + values


@torch.no_grad()
def critic_values(critic: PrivilegedCritic, rollout: Rollout) -> tuple[Tensor, Tensor, Tensor]:
    """V at each decision (T, N), at each episode's final state (T, N), after the last decision (N,)."""
    t_len, n = rollout.shape
    p = rollout.privileged.shape[-1]
    values = critic(rollout.privileged.reshape(-1, p)).reshape(t_len, n)
    final = critic(rollout.final_privileged.reshape(-1, p)).reshape(t_len, n)
    last = critic(rollout.last_privileged)
    return values, final, last


def _flat(x: Tensor) -> Tensor:
    return x.reshape(-1, *x.shape[2:])


def _check_first_ratio(logratio: Tensor, n_scored: int, mode: str, tol: float) -> float:
    per_coord = logratio if mode == "element" else (logratio / n_scored if mode == "chain" else logratio)
    worst = float(per_coord.abs().max())
    if worst > tol:
        raise RatioCheckError(
            f"first PPO minibatch: |log ratio| per scored coordinate reached {worst:.3g} (> {tol}) before any "
            "update. The rollout and the update score chains differently (dropout on? a different time grid or "
            "dtype? a context modified by scoring?)."
        )
    return worst


def ppo_update(
    adapter: FlowPolicyAdapter,
    chain: ReinFlowChain,
    critic: PrivilegedCritic,
    actor_opt: torch.optim.Optimizer | None,
    critic_opt: torch.optim.Optimizer,
    rollout: Rollout,
    cfg: PPOConfig,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One PPO update (actor skipped when ``actor_opt`` is None: critic warm-up). Returns statistics."""
    mode = RATIO_MODES[cfg.ratio_mode]
    n_scored = chain.n_scored
    t_len, n = rollout.shape
    m = t_len * n
    dev = rollout.chains.device

    critic.norm.update(rollout.privileged.reshape(-1, rollout.privileged.shape[-1]))
    critic.norm.update(rollout.last_privileged)
    values, final_values, last_values = critic_values(critic, rollout)
    ends = rollout.dones if cfg.truncation == "terminal" else rollout.terminated
    adv, returns = compute_gae(rollout.rewards, values, rollout.dones, ends, final_values, last_values, cfg.gamma, cfg.lam)
    adv_f, ret_f = adv.reshape(-1), returns.reshape(-1)
    if cfg.normalize_advantages and m > 1:
        adv_f = (adv_f - adv_f.mean()) / (adv_f.std() + 1e-8)
    chains = _flat(rollout.chains)
    roll_logp = _flat(rollout.logp)
    priv = _flat(rollout.privileged)
    ctx_all = _cat_contexts(rollout.contexts)

    perm = torch.randperm(m, generator=generator).to(dev)
    batches = list(perm.chunk(max(1, min(cfg.minibatches, m))))
    stats: dict[str, float] = {
        "value_mean": float(values.mean()),
        "return_mean": float(returns.mean()),
        "adv_raw_std": float(adv.std()) if m > 1 else 0.0,
    }

    if actor_opt is not None:
        adapter.set_eval()
        old: list[Tensor] = []
        drift = 0.0
        with torch.no_grad():  # pi_old in the update's own minibatch layout
            for idx in batches:
                sc = chain.score(adapter, tree_index(ctx_all, idx), chains[idx])
                old.append(reduce_logp(sc.logp, chain.step_mask, mode))
                drift = max(drift, float((sc.logp - roll_logp[idx]).abs().max()))
        stats["logp_drift"] = drift
        kls, clips, ents, pgs, sigmas = [], [], [], [], []
        first = True
        stop_epoch = cfg.epochs
        for epoch in range(cfg.epochs):
            order = torch.randperm(len(batches), generator=generator).tolist()
            epoch_kl = []
            for j in order:
                idx = batches[j]
                sc = chain.score(adapter, tree_index(ctx_all, idx), chains[idx])
                new = reduce_logp(sc.logp, chain.step_mask, mode)
                logratio = new - old[j]
                if first:
                    stats["first_ratio_err"] = _check_first_ratio(logratio.detach(), n_scored, cfg.ratio_mode, cfg.ratio_check_tol)
                    first = False
                ratio = torch.exp(logratio)
                a = adv_f[idx]
                if mode == "element":
                    a = a[:, None]
                pg = torch.max(-a * ratio, -a * ratio.clamp(1.0 - cfg.clip, 1.0 + cfg.clip)).mean()
                entropy = sc.entropy.sum(dim=(1, 2, 3)).mean() / n_scored
                loss = pg - cfg.entropy_coef * entropy
                actor_opt.zero_grad(set_to_none=True)
                loss.backward()
                params = [p for g in actor_opt.param_groups for p in g["params"]]
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                actor_opt.step()
                with torch.no_grad():
                    lr = logratio.detach()
                    kl_coord = ((torch.exp(lr) - 1.0) - lr).mean()
                    if mode == "sum":
                        kl_coord = kl_coord / n_scored
                    epoch_kl.append(float(kl_coord))
                    clips.append(float(((ratio.detach() - 1.0).abs() > cfg.clip).float().mean()))
                    ents.append(float(entropy.detach()))
                    pgs.append(float(pg.detach()))
                    sigmas.append(float(sc.sigma.sum() / (sc.sigma.shape[0] * n_scored)))
            kls.append(sum(epoch_kl) / len(epoch_kl))
            if cfg.target_kl is not None and kls[-1] > cfg.target_kl:
                stop_epoch = epoch + 1
                break
        stats.update(
            approx_kl=kls[-1] if kls else 0.0,
            clip_frac=sum(clips) / max(1, len(clips)),
            entropy=sum(ents) / max(1, len(ents)),
            policy_loss=sum(pgs) / max(1, len(pgs)),
            sigma_mean=sum(sigmas) / max(1, len(sigmas)),
            actor_epochs=float(stop_epoch),
        )

    vls = []
    for _ in range(cfg.value_epochs):
        for idx in batches:
            vloss = ((critic(priv[idx]) - ret_f[idx]) ** 2).mean()
            critic_opt.zero_grad(set_to_none=True)
            vloss.backward()
            torch.nn.utils.clip_grad_norm_(critic.parameters(), cfg.max_grad_norm)
            critic_opt.step()
            vls.append(float(vloss.detach()))
    stats["value_loss"] = sum(vls[-len(batches) :]) / len(batches)
    return stats


def _cat_contexts(contexts: list[Context]) -> Context:
    from so101_sim.rl.protocol import tree_cat

    return tree_cat(contexts)
