"""The ReinFlow chain core against the analytic Gaussian density, re-scoring, masks, sigma bounds, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from so101_sim.rl.chain import ReinFlowChain, SigmaSchedule, exec_mask, reduce_logp, time_grid
from so101_sim.rl.protocol import ChainSpec, FlowPolicyAdapter, check_context, tree_index


class TinyAdapter(nn.Module):
    """A minimal adapter: MLP velocity over (context, x, t); features = an embedding of the context."""

    def __init__(self, spec: ChainSpec, ctx_dim: int = 5, feat_dim: int = 8) -> None:
        super().__init__()
        self.spec = spec
        flat = spec.horizon * spec.action_dim
        self.emb = nn.Linear(ctx_dim, feat_dim)
        self.net = nn.Sequential(nn.Linear(feat_dim + flat + 1, 32), nn.Tanh(), nn.Linear(32, flat))
        self.dropout = nn.Dropout(0.5)  # must be inert in eval mode
        self.feature_dim = feat_dim
        self.seen_times: list[float] = []

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def encode(self, obs, tasks):
        return torch.as_tensor(obs["agent_pos"], dtype=torch.float32)

    def velocity(self, ctx, x, t):
        self.seen_times.append(float(t[0]))
        f = torch.tanh(self.emb(ctx))
        v = self.net(self.dropout(torch.cat([f, x.flatten(1), t[:, None]], -1)))
        return v.view_as(x), f

    def trainable_parameters(self):
        return list(self.parameters())

    def set_eval(self):
        self.eval()

    def to_env_actions(self, x):
        return x[:, : self.spec.n_exec, : self.spec.real_dims].numpy()

    def export(self, path):
        torch.save(self.state_dict(), path)


SPEC = ChainSpec(horizon=6, action_dim=4, n_exec=3, real_dims=2)


def make(mode: str = "learned", k: int = 3, spec: ChainSpec = SPEC, seed: int = 0):
    torch.manual_seed(seed)
    adapter = TinyAdapter(spec)
    adapter.set_eval()
    chain = ReinFlowChain(spec, adapter.feature_dim, k_steps=k, sigma=SigmaSchedule(mode, 0.05, 0.2))
    # a non-trivial noise head (its last layer starts at zero)
    with torch.no_grad():
        for p in chain.noise_head.parameters():
            p.add_(0.3 * torch.randn_like(p))
    ctx = adapter.encode({"agent_pos": np.random.default_rng(seed).normal(size=(7, 5))}, [""] * 7)
    return adapter, chain, ctx


def test_adapter_satisfies_protocol_and_context_is_frozen():
    adapter, _, ctx = make()
    assert isinstance(adapter, FlowPolicyAdapter)
    check_context(ctx, 7)
    with pytest.raises(ValueError, match="batch 3 first"):
        check_context(ctx, 3)
    with pytest.raises(ValueError, match="requires grad"):
        check_context(ctx.clone().requires_grad_(True), 7)


def test_time_grid_is_one_function_forward_and_reverse():
    assert time_grid(4, "forward") == ([0.0, 0.25, 0.5, 0.75], 0.25)
    assert time_grid(4, "reverse") == ([1.0, 0.75, 0.5, 0.25], -0.25)
    with pytest.raises(ValueError):
        time_grid(0, "forward")
    spec = ChainSpec(6, 4, 3, 2, time_direction="reverse")
    adapter, chain, ctx = make(spec=spec, k=4)
    adapter.seen_times.clear()
    s = chain.sample(adapter, ctx, 7)
    chain.score(adapter, ctx, s.chain)
    assert adapter.seen_times == [1.0, 0.75, 0.5, 0.25] * 2  # sampling and scoring saw the same grid


def test_chain_logp_equals_analytic_gaussian_density():
    adapter, chain, ctx = make(k=3)
    gen = torch.Generator().manual_seed(1)
    s = chain.sample(adapter, ctx, 7, generator=gen)
    mask = exec_mask(SPEC).bool()
    total = torch.zeros(7, dtype=torch.float64)
    with torch.no_grad():
        for k in range(3):
            t = torch.full((7,), k / 3)
            v, feat = adapter.velocity(ctx, s.chain[:, k], t)
            mu = s.chain[:, k] + v * (1.0 / 3)
            sigma = chain.sigma(feat, k)
            dist = torch.distributions.Normal(mu[:, mask].double(), sigma[:, mask].double())
            total += dist.log_prob(s.chain[:, k + 1][:, mask].double()).sum(-1)
    got = reduce_logp(s.logp, chain.step_mask, "sum")
    torch.testing.assert_close(got.double(), total, rtol=0, atol=1e-4)
    n = 3 * SPEC.n_exec * SPEC.real_dims
    torch.testing.assert_close(reduce_logp(s.logp, chain.step_mask, "mean"), got / n)
    assert reduce_logp(s.logp, chain.step_mask, "element").shape == (7, n)


def test_rescore_reproduces_rollout_logp_in_any_minibatch_layout():
    adapter, chain, ctx = make(k=4)
    s = chain.sample(adapter, ctx, 7, generator=torch.Generator().manual_seed(2))
    full = chain.score(adapter, ctx, s.chain)
    ratio = torch.exp(reduce_logp(full.logp, chain.step_mask, "sum") - reduce_logp(s.logp, chain.step_mask, "sum"))
    assert torch.allclose(ratio, torch.ones(7), atol=1e-5)
    for idx in (torch.tensor([4, 0, 6]), torch.tensor([1]), torch.tensor([2, 3, 5, 0, 1, 6, 4])):
        part = chain.score(adapter, tree_index(ctx, idx), s.chain[idx])
        elem = reduce_logp(part.logp, chain.step_mask, "element") - reduce_logp(s.logp[idx], chain.step_mask, "element")
        assert elem.abs().max() < 1e-5


def test_padding_and_unexecuted_steps_carry_no_noise_and_no_logp():
    adapter, chain, ctx = make(k=3)
    s = chain.sample(adapter, ctx, 7, generator=torch.Generator().manual_seed(3))
    det = ~exec_mask(SPEC).bool()
    with torch.no_grad():
        for k in range(3):
            v, _ = adapter.velocity(ctx, s.chain[:, k], torch.full((7,), k / 3))
            mu = s.chain[:, k] + v * (1.0 / 3)
            assert torch.equal(s.chain[:, k + 1][:, det], mu[:, det])  # deterministic off the mask
            assert (s.chain[:, k + 1][:, ~det] - mu[:, ~det]).abs().min() > 0  # noisy on it
    assert torch.count_nonzero(s.logp[:, :, det]) == 0
    assert torch.count_nonzero(s.sigma[:, :, det]) == 0
    score = chain.score(adapter, ctx, s.chain)
    assert torch.count_nonzero(score.logp[:, :, det]) == 0 and torch.count_nonzero(score.entropy[:, :, det]) == 0
    # perturbing a padded/unexecuted entry of the final sample changes no log-prob (it is not scored)
    moved = s.chain.clone()
    moved[:, -1, SPEC.n_exec :, :] += 5.0
    moved[:, -1, :, SPEC.real_dims :] += 5.0
    torch.testing.assert_close(chain.score(adapter, ctx, moved).logp, score.logp)


@pytest.mark.parametrize("mode", ["learned", "decay", "fixed"])
def test_sigma_stays_in_bounds(mode):
    adapter, chain, _ = make(mode=mode)
    feats = 50.0 * torch.randn(64, adapter.feature_dim)  # saturate the tanh both ways
    for progress in (0.0, 0.3, 0.6, 1.0):
        chain.set_progress(progress)
        lo, hi = chain.sigma_schedule.bounds(progress)
        for k in range(chain.k_steps):
            s = chain.sigma(feats, k).detach()
            assert s.shape == (64, SPEC.horizon, SPEC.action_dim)
            assert float(s.min()) >= lo * (1 - 1e-6) and float(s.max()) <= hi * (1 + 1e-6)
    if mode == "decay":
        assert chain.sigma_schedule.bounds(1.0)[1] == pytest.approx(0.05 + 0.7 * 0.15)
        assert chain.sigma_schedule.bounds(0.2)[1] == 0.2
    if mode == "fixed":
        assert torch.all(chain.sigma(feats, 0) == chain.sigma_bounds[1])


def test_gradients_reach_velocity_field_and_noise_head():
    adapter, chain, ctx = make(k=2)
    s = chain.sample(adapter, ctx, 7, generator=torch.Generator().manual_seed(4))
    adapter.train()  # dropout would break the ratio; the core never needs train mode (checked below)
    adapter.set_eval()
    score = chain.score(adapter, ctx, s.chain)
    loss = -(reduce_logp(score.logp, chain.step_mask, "sum").mean() + score.entropy.sum(dim=(1, 2, 3)).mean())
    loss.backward()
    for name, p in [*adapter.named_parameters(), *chain.noise_head.named_parameters()]:
        if name.startswith(("out_flat_layer", "net", "emb", "body")):
            assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    # per-token (B, H, F) features drive the per-token output instead
    assert chain.noise_head.out_tokens.weight.grad is None or float(chain.noise_head.out_tokens.weight.grad.abs().sum()) == 0


def test_no_clamping_large_velocities_pass_through():
    adapter, chain, ctx = make(k=1)
    with torch.no_grad():
        adapter.net[-1].bias.fill_(40.0)  # pushes the sample far outside [-1, 1]
    s = chain.sample(adapter, ctx, 7, generator=torch.Generator().manual_seed(5))
    assert float(s.action.max()) > 10.0
    r = chain.score(adapter, ctx, s.chain)
    torch.testing.assert_close(r.logp, s.logp)
    assert math.isfinite(float(r.logp.detach().sum()))


def test_deterministic_sample_is_the_plain_euler_ode():
    adapter, chain, ctx = make(k=4)
    x0 = torch.randn(7, SPEC.horizon, SPEC.action_dim, generator=torch.Generator().manual_seed(6))
    s = chain.sample(adapter, ctx, 7, generator=torch.Generator().manual_seed(6), deterministic=True)
    x = x0
    with torch.no_grad():
        for k in range(4):
            x = x + adapter.velocity(ctx, x, torch.full((7,), k / 4))[0] * 0.25
    torch.testing.assert_close(s.action, x)


def test_rescore_at_new_parameters_recomputes_deterministic_entries():
    """Unexecuted entries feed later steps of an MLP velocity field: at changed parameters the exact chain
    likelihood uses their recomputed values, not the stored rollout ones."""
    adapter, chain, ctx = make(k=3)
    s = chain.sample(adapter, ctx, 7, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        for p in adapter.net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    got = chain.score(adapter, ctx, s.chain).logp
    mask = exec_mask(SPEC)
    x = s.chain[:, 0]
    want = []
    with torch.no_grad():
        for k in range(3):
            v, feat = adapter.velocity(ctx, x, torch.full((7,), k / 3))
            mu = x + v * (1.0 / 3)
            sigma = chain.sigma(feat, k)
            want.append(torch.distributions.Normal(mu, sigma).log_prob(s.chain[:, k + 1]) * mask)
            x = torch.where(mask.bool(), s.chain[:, k + 1], mu)  # sampled entries stored, the rest recomputed
    torch.testing.assert_close(got.detach(), torch.stack(want, 1), atol=1e-5, rtol=1e-5)
    stale = []
    with torch.no_grad():
        for k in range(3):  # what reading the stored deterministic entries would give
            v, feat = adapter.velocity(ctx, s.chain[:, k], torch.full((7,), k / 3))
            normal = torch.distributions.Normal(s.chain[:, k] + v * (1.0 / 3), chain.sigma(feat, k))
            stale.append(normal.log_prob(s.chain[:, k + 1]) * mask)
    stale = torch.stack(stale, 1)
    assert (stale - got.detach()).abs().max() > 1e-4


def test_noisy_steps_are_the_last_ones():
    adapter, _, ctx = make(k=4)
    partial = ReinFlowChain(SPEC, adapter.feature_dim, k_steps=4, noisy_steps=1)
    assert partial.step_mask.sum(dim=(1, 2)).tolist() == [0.0, 0.0, 0.0, float(SPEC.n_exec * SPEC.real_dims)]
    assert partial.n_scored == SPEC.n_exec * SPEC.real_dims
    s = partial.sample(adapter, ctx, 7, generator=torch.Generator().manual_seed(8))
    assert torch.count_nonzero(s.logp[:, :3]) == 0 and torch.count_nonzero(s.logp[:, 3]) > 0
    torch.testing.assert_close(partial.score(adapter, ctx, s.chain).logp, s.logp)
    with pytest.raises(ValueError, match="noisy_steps"):
        ReinFlowChain(SPEC, adapter.feature_dim, k_steps=4, noisy_steps=5)
