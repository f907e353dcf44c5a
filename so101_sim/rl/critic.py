"""Asymmetric critic: a value MLP on the simulator's privileged state (training only, never a policy input).

The env exposes the state through :meth:`so101_sim.mujoco.env.SO101Env.privileged_state` (cube pose and
velocity, gripper pose, joints, jaw contacts, episode time); :class:`so101_sim.rl.collector.PrivilegedInfo`
puts it into ``info`` for the collector. Inputs are standardised by running statistics updated from each
rollout (before the value loss of that iteration), so the critic needs no hand-tuned scaling.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RunningNorm(nn.Module):
    """Per-feature running mean/variance (parallel Welford update), applied as (x - mean) / std."""

    def __init__(self, dim: int, eps: float = 1e-4) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.tensor(eps))

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        x = x.reshape(-1, x.shape[-1]).to(self.mean)
        n = x.shape[0]
        m, v = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = m - self.mean
        self.mean += delta * n / total
        self.var = (self.var * self.count + v * n + delta**2 * self.count * n / total) / total
        self.count = total

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / torch.sqrt(self.var + 1e-6)


class PrivilegedCritic(nn.Module):
    """V(s) from privileged state s (B, P) -> (B,)."""

    def __init__(self, state_dim: int, hidden: tuple[int, ...] = (256, 256)) -> None:
        super().__init__()
        self.state_dim = state_dim
        self.norm = RunningNorm(state_dim)
        layers: list[nn.Module] = []
        width = state_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Mish()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, state: Tensor) -> Tensor:
        if state.shape[-1] != self.state_dim:
            raise ValueError(f"critic expects privileged state of width {self.state_dim}, got {tuple(state.shape)}")
        return self.net(self.norm(state.float())).squeeze(-1)
