"""ReinFlow's noisy Euler chain, policy-agnostic (arXiv 2505.22094).

A K-step Euler flow sampler becomes a Markov chain over the policy's normalised action chunk::

    x_0 ~ N(0, x0_std^2 I)                                 (all H x D entries; x0_std = 0: start at 0)
    mu_k = x_k + v(ctx, x_k, t_k) * dt                     (t_k, dt from time_grid(): ONE place)
    x_{k+1} = mu_k + m * sigma_k * eps_k,  eps_k ~ N(0, I) (m = exec_mask: executed steps x real joints)

so ``log pi(x_1..x_K | x_0, o) = sum_k sum_{m} log N(x_{k+1}; mu_k, sigma_k^2)`` is exact. Entries outside the mask
(padding dimensions, chunk steps never executed) are deterministic: they carry no noise and no log-prob term.
``x_0``'s density does not depend on the parameters and is left out (it cancels in every PPO ratio).
Samples are never clamped: a clamp after drawing would make the Gaussian log-prob wrong. When re-scoring, the
deterministic entries are recomputed from the current parameters (they feed later steps of an MLP velocity field
over the whole chunk), so the likelihood and its gradient are exact at any parameters, not only at the rollout's.

sigma_k comes from :class:`NoiseHead`: an MLP on the adapter's features plus a one-hot of k, whose output is a
log-variance squashed by tanh into ``[log sigma_min^2, log sigma_max^2]``. :class:`SigmaSchedule` moves the
bounds: ``fixed`` (sigma = sigma_max, no head), ``learned`` (fixed bounds), ``decay`` (upper bound held for
``hold`` of training, then cosine-decayed to ``min + 0.7 (max - min)``, as ReinFlow's ``learn_decay``).

Sampling (:meth:`ReinFlowChain.sample`) and re-scoring (:meth:`ReinFlowChain.score`) share :meth:`_step_stats`, so
a re-score of a stored chain reproduces the rollout log-prob (ratio 1) in fp32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from so101_sim.rl.protocol import ChainSpec, Context, FlowPolicyAdapter

LOG_2PI = math.log(2.0 * math.pi)
SIGMA_MODES = ("fixed", "learned", "decay")
LOGP_REDUCTIONS = ("sum", "mean", "element")


def time_grid(k_steps: int, direction: str) -> tuple[list[float], float]:
    """The K Euler times and the signed step: the ONLY place the time grid is built.

    ``forward`` (flow_mlp, ReinFlow): t_k = k/K, dt = +1/K (noise at 0, action at 1).
    ``reverse`` (SmolVLA, Pi0): t_k = 1 - k/K, dt = -1/K (noise at 1, action at 0).
    """
    if k_steps < 1:
        raise ValueError(f"denoise steps K must be >= 1, got {k_steps}")
    if direction == "forward":
        return [k / k_steps for k in range(k_steps)], 1.0 / k_steps
    if direction == "reverse":
        return [1.0 - k / k_steps for k in range(k_steps)], -1.0 / k_steps
    raise ValueError(f"time direction must be 'forward' or 'reverse', got {direction!r}")


def exec_mask(spec: ChainSpec, device: torch.device | str = "cpu") -> Tensor:
    """(H, D) float mask: 1 on the entries that reach the env (first n_exec steps x first real_dims dims)."""
    m = torch.zeros(spec.horizon, spec.action_dim, device=device)
    m[: spec.n_exec, : spec.real_dims] = 1.0
    return m


@dataclass
class SigmaSchedule:
    """Bounds of the exploration std, in normalised action units, as a function of training progress."""

    mode: str = "learned"
    sigma_min: float = 0.05
    sigma_max: float = 0.15
    hold: float = 0.35  # decay: fraction of training at the initial upper bound
    decay_to: float = 0.7  # decay: final upper bound = min + decay_to * (max - min)

    def __post_init__(self) -> None:
        if self.mode not in SIGMA_MODES:
            raise ValueError(f"sigma mode must be one of {SIGMA_MODES}, got {self.mode!r}")
        if not 0.0 < self.sigma_min <= self.sigma_max:
            raise ValueError(f"need 0 < sigma_min <= sigma_max, got {self.sigma_min}, {self.sigma_max}")

    def bounds(self, progress: float) -> tuple[float, float]:
        """(sigma_lo, sigma_hi) at ``progress`` in [0, 1] of training."""
        if self.mode == "fixed":
            return self.sigma_max, self.sigma_max
        if self.mode == "learned" or progress <= self.hold:
            return self.sigma_min, self.sigma_max
        frac = min(1.0, (progress - self.hold) / max(1e-9, 1.0 - self.hold))
        end = self.sigma_min + self.decay_to * (self.sigma_max - self.sigma_min)
        hi = end + (self.sigma_max - end) * 0.5 * (1.0 + math.cos(math.pi * frac))
        return self.sigma_min, hi


class NoiseHead(nn.Module):
    """Tanh-bounded log-variance from the policy's features and the denoising step index.

    Features (B, F) give one std per chunk entry (output H*D); per-token features (B, H, F) give D per token.
    The last layer starts at zero, so sigma starts at the middle of the log-variance range.
    """

    def __init__(self, feature_dim: int, spec: ChainSpec, k_steps: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        self.spec, self.k_steps, self.feature_dim = spec, k_steps, feature_dim
        self.out_flat = spec.horizon * spec.action_dim
        layers: list[nn.Module] = []
        width = feature_dim + k_steps
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.body = nn.Sequential(*layers)
        self.out_tokens = nn.Linear(width, spec.action_dim)  # per-token features
        self.out_flat_layer = nn.Linear(width, self.out_flat)  # pooled features
        for lin in (self.out_tokens, self.out_flat_layer):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, features: Tensor, k: int) -> Tensor:
        """Squash input z in (-1, 1) per chunk entry, shape (B, H, D)."""
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"noise head expects features with last dim {self.feature_dim}, got {tuple(features.shape)}")
        onehot = torch.zeros(*features.shape[:-1], self.k_steps, device=features.device, dtype=features.dtype)
        onehot[..., k] = 1.0
        h = self.body(torch.cat([features, onehot], dim=-1))
        if features.dim() == 2:
            z = self.out_flat_layer(h).view(-1, self.spec.horizon, self.spec.action_dim)
        elif features.dim() == 3 and features.shape[1] == self.spec.horizon:
            z = self.out_tokens(h)
        else:
            raise ValueError(f"features must be (B, F) or (B, H={self.spec.horizon}, F), got {tuple(features.shape)}")
        return torch.tanh(z)


@dataclass
class ChainSample:
    """One batch of sampled chains. ``chain`` (B, K+1, H, D): x_0 .. x_K; ``action`` = x_K (normalised)."""

    chain: Tensor
    logp: Tensor  # (B, K, H, D) per-entry log-density, exactly 0 off the mask
    sigma: Tensor  # (B, K, H, D) the std used at each step (reported on the mask only)

    @property
    def action(self) -> Tensor:
        return self.chain[:, -1]


@dataclass
class ChainScore:
    logp: Tensor  # (B, K, H, D), 0 off the mask
    entropy: Tensor  # (B, K, H, D), 0 off the mask
    sigma: Tensor  # (B, K, H, D)


class ReinFlowChain(nn.Module):
    """Noise head + sampling + exact re-scoring for any :class:`FlowPolicyAdapter`."""

    def __init__(
        self,
        spec: ChainSpec,
        feature_dim: int,
        k_steps: int = 4,
        sigma: SigmaSchedule | None = None,
        noise_hidden: tuple[int, ...] = (64, 64),
        detach_features: bool = True,
        noisy_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.spec, self.k_steps = spec, int(k_steps)
        self.sigma_schedule = sigma or SigmaSchedule()
        self.detach_features = detach_features
        self.times, self.dt = time_grid(self.k_steps, spec.time_direction)
        self.noise_head = NoiseHead(feature_dim, spec, self.k_steps, noise_hidden)
        self.register_buffer("mask", exec_mask(spec))
        # Which denoising steps are stochastic: the LAST ``noisy_steps`` (default all K; DPPO-style when fewer).
        # The deterministic prefix is recomputed when scoring, so the likelihood stays exact. (Noise on early steps
        # followed by deterministic trained steps would not be: the action would be a trained function of the
        # sample, whose density needs a Jacobian.)
        self.noisy_steps = int(noisy_steps or self.k_steps)
        if not 1 <= self.noisy_steps <= self.k_steps:
            raise ValueError(f"noisy_steps must be in [1, K={self.k_steps}], got {noisy_steps}")
        on = (torch.arange(self.k_steps) >= self.k_steps - self.noisy_steps).float()
        self.register_buffer("step_mask", on[:, None, None] * self.mask)  # (K, H, D)
        lo, hi = self.sigma_schedule.bounds(0.0)
        self.register_buffer("sigma_bounds", torch.tensor([lo, hi], dtype=torch.float32))

    # ------------------------------------------------------------------ sigma
    def set_progress(self, progress: float) -> None:
        """Update the sigma bounds for this iteration (call between rollouts, never between sample and score)."""
        lo, hi = self.sigma_schedule.bounds(float(progress))
        self.sigma_bounds.copy_(torch.tensor([lo, hi]))

    def sigma(self, features: Tensor, k: int) -> Tensor:
        """(B, H, D) std at step k, inside [sigma_lo, sigma_hi] by construction."""
        lo, hi = self.sigma_bounds[0], self.sigma_bounds[1]
        if self.sigma_schedule.mode == "fixed":
            return hi.expand(features.shape[0], self.spec.horizon, self.spec.action_dim)
        if self.detach_features:
            features = features.detach()
        s = self.noise_head(features.float(), k)
        logvar_lo, logvar_hi = 2.0 * torch.log(lo), 2.0 * torch.log(hi)
        logvar = logvar_lo + (logvar_hi - logvar_lo) * (s + 1.0) * 0.5
        return torch.exp(0.5 * logvar)

    # ------------------------------------------------------------------ one step
    def _step_stats(self, adapter: FlowPolicyAdapter, ctx: Context, x: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """(mu_k, sigma_k) for chain state x = x_k: the one computation sampling and scoring share."""
        t = torch.full((x.shape[0],), self.times[k], device=x.device, dtype=x.dtype)
        v, features = adapter.velocity(ctx, x, t)
        if v.shape != x.shape:
            raise ValueError(f"adapter.velocity returned v of shape {tuple(v.shape)}; expected {tuple(x.shape)}")
        mu = x + v * self.dt
        return mu, self.sigma(features, k).to(mu.dtype)

    def _gaussian_logp(self, x_next: Tensor, mu: Tensor, sigma: Tensor, k: int) -> Tensor:
        z = (x_next - mu) / sigma
        return (-0.5 * z * z - torch.log(sigma) - 0.5 * LOG_2PI) * self.step_mask[k]

    # ------------------------------------------------------------------ public API
    @torch.no_grad()
    def sample(
        self,
        adapter: FlowPolicyAdapter,
        ctx: Context,
        batch: int,
        generator: torch.Generator | None = None,
        deterministic: bool = False,
    ) -> ChainSample:
        """Run the noisy chain (or, with ``deterministic``, the plain ODE the exported policy runs)."""
        spec = self.spec
        dev = adapter.device
        x = torch.randn(batch, spec.horizon, spec.action_dim, generator=generator, device=dev) * spec.x0_std
        chain = [x]
        logps, sigmas = [], []
        for k in range(self.k_steps):
            mu, sigma = self._step_stats(adapter, ctx, x, k)
            if deterministic:
                x_next = mu
            else:
                eps = torch.randn(mu.shape, generator=generator, device=dev, dtype=mu.dtype)
                x_next = mu + self.step_mask[k] * sigma * eps
            logps.append(self._gaussian_logp(x_next, mu, sigma, k))
            sigmas.append(sigma * self.step_mask[k])
            chain.append(x_next)
            x = x_next
        return ChainSample(torch.stack(chain, 1), torch.stack(logps, 1), torch.stack(sigmas, 1))

    def score(self, adapter: FlowPolicyAdapter, ctx: Context, chain: Tensor) -> ChainScore:
        """Per-entry log-density and entropy of stored chains (B, K+1, H, D), differentiable."""
        if chain.shape[1] != self.k_steps + 1:
            raise ValueError(f"chain has {chain.shape[1] - 1} steps; this chain core runs K={self.k_steps}")
        logps, ents, sigmas = [], [], []
        x = chain[:, 0].contiguous()  # x_0 does not depend on the parameters
        for k in range(self.k_steps):
            m = self.step_mask[k]
            mu, sigma = self._step_stats(adapter, ctx, x, k)
            logps.append(self._gaussian_logp(chain[:, k + 1], mu, sigma, k))
            ents.append((0.5 * (1.0 + LOG_2PI) + torch.log(sigma)) * m)
            sigmas.append(sigma * m)
            # Sampled entries are the stored ones; deterministic entries (unexecuted chunk steps, padding,
            # noiseless steps) are functions of the parameters and are RECOMPUTED, so that their influence on
            # later steps is part of the likelihood and its gradient (at the rollout's parameters they equal the
            # stored values, so the ratio is still 1).
            x = m * chain[:, k + 1] + (1.0 - m) * mu
        return ChainScore(torch.stack(logps, 1), torch.stack(ents, 1), torch.stack(sigmas, 1))

    @property
    def n_scored(self) -> int:
        """Number of scored coordinates per decision: noisy_steps x n_exec x real_dims."""
        return self.noisy_steps * self.spec.n_exec * self.spec.real_dims


def reduce_logp(logp: Tensor, mask: Tensor, mode: str) -> Tensor:
    """Per-decision log-prob from per-entry terms (B, K, H, D) and the (K, H, D) scored mask (``chain.step_mask``).

    ``sum``: the exact chain log-likelihood (B,). ``mean``: divided by the number of scored coordinates
    (ReinFlow's normalisation; pair it with a small clip such as 0.01-0.05). ``element``: the scored
    coordinates themselves (B, K * n_exec * real_dims), for a per-coordinate ratio (RLinf style).
    """
    if mode == "sum":
        return logp.sum(dim=(1, 2, 3))
    if mode == "mean":
        return logp.sum(dim=(1, 2, 3)) / mask.sum()
    if mode == "element":
        return logp[:, mask.bool()]
    raise ValueError(f"log-prob reduction must be one of {LOGP_REDUCTIONS}, got {mode!r}")
