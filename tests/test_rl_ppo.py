"""GAE against a hand-computed case; the collector's SAME_STEP reset/truncation handling on the real MuJoCo env;
the PPO update's pi_old/ratio check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from so101_sim.rl.chain import ReinFlowChain, SigmaSchedule
from so101_sim.rl.collector import ChunkCollector, classify_failure, make_train_envs
from so101_sim.rl.critic import PrivilegedCritic
from so101_sim.rl.ppo import PPOConfig, RatioCheckError, Rollout, compute_gae, ppo_update
from so101_sim.rl.protocol import ChainSpec


def test_gae_mid_rollout_reset_and_truncation_hand_computed():
    # env 0: success (terminated) in decision 2, then a new episode; env 1: time limit (truncated) in decision 1.
    rewards = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    values = torch.tensor([[0.1, 0.5], [0.2, 0.4], [0.3, 0.3], [0.4, 0.2], [0.5, 0.1]])
    dones = torch.zeros(5, 2, dtype=torch.bool)
    dones[2, 0] = dones[1, 1] = True
    terminated = torch.zeros(5, 2, dtype=torch.bool)
    terminated[2, 0] = True
    final_values = torch.full((5, 2), 99.0)  # only [1, 1] (the truncated episode) may be read
    final_values[1, 1] = 0.7
    last_values = torch.tensor([0.6, 0.05])
    adv, ret = compute_gae(rewards, values, dones, terminated, final_values, last_values, gamma=0.9, lam=0.8)
    # by hand, gamma*lam = 0.72:
    # env 0: t4 0+0.9*0.6-0.5=0.04; t3 0.45-0.4+0.72*0.04=0.0788; t2 1-0.3=0.7 (terminal, no carry);
    #        t1 0.27-0.2+0.72*0.7=0.574; t0 0.18-0.1+0.72*0.574=0.49328
    # env 1: t4 0.045-0.1=-0.055; t3 0.09-0.2+0.72*-0.055=-0.1496; t2 0.18-0.3+0.72*-0.1496=-0.227712;
    #        t1 0.9*0.7-0.4=0.23 (truncated: V(final obs), no carry); t0 0.36-0.5+0.72*0.23=0.0256
    expected = torch.tensor(
        [[0.49328, 0.0256], [0.574, 0.23], [0.7, -0.227712], [0.0788, -0.1496], [0.04, -0.055]]
    )
    torch.testing.assert_close(adv, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(ret, expected + values)


class HoldAdapter(nn.Module):
    """Holds the current joint positions (the chain's output is ignored): a policy that never ends an episode."""

    def __init__(self, n_exec: int = 10) -> None:
        super().__init__()
        self.spec = ChainSpec(horizon=12, action_dim=6, n_exec=n_exec, real_dims=6)
        self.feature_dim = 4
        self.lin = nn.Linear(6, 4)
        self.head = nn.Linear(4 + 72, 72)
        self._hold = None

    @property
    def device(self):
        return torch.device("cpu")

    def encode(self, obs, tasks):
        self._hold = np.asarray(obs["agent_pos"], dtype=np.float32)
        return torch.as_tensor(self._hold) / 100.0

    def velocity(self, ctx, x, t):
        f = torch.tanh(self.lin(ctx))
        return self.head(torch.cat([f, x.flatten(1)], -1)).view_as(x), f

    def trainable_parameters(self):
        return list(self.parameters())

    def set_eval(self):
        self.eval()

    def to_env_actions(self, x):
        return np.repeat(self._hold[:, None], self.spec.n_exec, axis=1)

    def export(self, path):
        raise NotImplementedError


def test_collector_truncation_mid_decision_bootstraps_from_final_state():
    envs = make_train_envs("Lift-v0", 2, episode_length=15)
    try:
        adapter = HoldAdapter()
        chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=2, sigma=SigmaSchedule("fixed", 0.1, 0.1))
        col = ChunkCollector(envs, adapter, chain, seed=3)
        ro = col.collect(3, generator=torch.Generator().manual_seed(0))
    finally:
        envs.close()
    assert ro.shape == (3, 2)
    # 15-step episodes, 10 steps per decision: the first episode is truncated 5 steps into decision 1; the next
    # one starts there (5 hold steps) and is truncated at the very end of decision 2.
    assert ro.dones.tolist() == [[False, False], [True, True], [True, True]]
    assert not ro.terminated.any()
    elapsed = -2  # privileged_state[-2] = elapsed fraction of the episode
    assert torch.allclose(ro.final_privileged[1, :, elapsed], torch.ones(2))  # the ended episode's last state
    # decision 2 starts in the new episode, after the 5 hold steps that finished decision 1
    assert torch.allclose(ro.privileged[2, :, elapsed], torch.full((2,), 5 / 15))
    assert torch.allclose(ro.privileged[0, :, elapsed], torch.zeros(2))
    assert ro.rewards.sum() == 0  # sparse success reward: the hold policy never succeeds
    assert col.env_steps == 3 * 10 * 2
    assert torch.allclose(ro.final_privileged[2, :, elapsed], torch.ones(2))
    assert torch.allclose(ro.last_privileged[:, elapsed], torch.zeros(2))  # a fresh third episode
    eps = col.tracker.pop()
    assert len(eps) == 4 and all(e["length"] == 15 and e["outcome"] == "no_contact" for e in eps)


def test_failure_taxonomy_classes():
    assert classify_failure(False, False, 0.0, 0.05) == "no_contact"
    assert classify_failure(True, True, 0.02, 0.05) == "not_high_enough"
    assert classify_failure(True, False, 0.02, 0.05) == "slip"
    assert classify_failure(True, False, 0.06, 0.05) == "slip"  # lifted then dropped


def _tiny_rollout(adapter, chain, t_len=3, n=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ctxs, chains, logps = [], [], []
    for _ in range(t_len):
        ctx = torch.randn(n, 6, generator=gen)
        s = chain.sample(adapter, ctx, n, generator=gen)
        ctxs.append(ctx)
        chains.append(s.chain)
        logps.append(s.logp)
    p = PrivilegedCritic(5)
    return Rollout(
        contexts=ctxs, chains=torch.stack(chains), logp=torch.stack(logps),
        privileged=torch.randn(t_len, n, 5, generator=gen), rewards=torch.rand(t_len, n, generator=gen),
        dones=torch.zeros(t_len, n, dtype=torch.bool), terminated=torch.zeros(t_len, n, dtype=torch.bool),
        final_privileged=torch.zeros(t_len, n, 5), last_privileged=torch.randn(n, 5, generator=gen),
    ), p  # fmt: skip


@pytest.mark.parametrize("mode", ["chain", "mean", "element"])
def test_ppo_update_first_ratio_is_one_and_params_move(mode):
    torch.manual_seed(0)
    adapter = HoldAdapter(n_exec=4)
    adapter.set_eval()
    chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=3, sigma=SigmaSchedule("learned", 0.05, 0.2))
    ro, critic = _tiny_rollout(adapter, chain)
    before = [p.detach().clone() for p in adapter.trainable_parameters()]
    opt = torch.optim.Adam([*adapter.trainable_parameters(), *chain.noise_head.parameters()], lr=1e-3)
    copt = torch.optim.Adam(critic.parameters(), lr=1e-3)
    stats = ppo_update(adapter, chain, critic, opt, copt, ro, PPOConfig(ratio_mode=mode, target_kl=None, epochs=2),
                       torch.Generator().manual_seed(1))  # fmt: skip
    assert stats["first_ratio_err"] < 1e-5 and stats["logp_drift"] < 1e-5
    assert any(not torch.equal(a, b) for a, b in zip(before, adapter.trainable_parameters()))
    assert np.isfinite(stats["value_loss"]) and stats["actor_epochs"] == 2


def test_ppo_ratio_check_catches_a_sampler_scorer_mismatch():
    torch.manual_seed(0)
    adapter = HoldAdapter(n_exec=4)
    chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=2, sigma=SigmaSchedule("learned", 0.05, 0.2))
    ro, critic = _tiny_rollout(adapter, chain)
    with torch.no_grad():  # the policy changed between the rollout and the update, e.g. a train-mode layer
        adapter.head.bias.add_(0.5)
    ro.logp = ro.logp  # stored rollout log-probs are stale; pi_old is recomputed, so only the drift shows it
    opt = torch.optim.Adam(adapter.trainable_parameters(), lr=1e-3)
    stats = ppo_update(adapter, chain, critic, opt, torch.optim.Adam(critic.parameters()), ro, PPOConfig(),
                       torch.Generator().manual_seed(1))  # fmt: skip
    assert stats["logp_drift"] > 1.0  # reported
    # a scorer that is not deterministic (dropout left on) trips the ratio check before any backward
    adapter.drop = nn.Dropout(0.5)
    adapter.train()
    orig = adapter.velocity
    adapter.velocity = lambda ctx, x, t: (adapter.drop(orig(ctx, x, t)[0]), orig(ctx, x, t)[1])
    adapter.set_eval = lambda: None  # a broken adapter that does not switch dropout off
    with pytest.raises(RatioCheckError, match="before any update"):
        ppo_update(adapter, chain, critic, opt, torch.optim.Adam(critic.parameters()), ro, PPOConfig(),
                   torch.Generator().manual_seed(1))  # fmt: skip


class BanditAdapter(nn.Module):
    """A flow policy over a 4 x 2 chunk whose context is a 2-D target; velocity MLP, x_0 = 0 (deterministic start)."""

    def __init__(self) -> None:
        super().__init__()
        self.spec = ChainSpec(horizon=4, action_dim=2, n_exec=2, real_dims=2, x0_std=0.0)
        self.feature_dim = 4
        self.net = nn.Sequential(nn.Linear(8 + 1 + 2, 64), nn.Mish(), nn.Linear(64, 8))
        self.f = nn.Linear(2, 4)

    @property
    def device(self):
        return torch.device("cpu")

    def velocity(self, ctx, x, t):
        v = self.net(torch.cat([x.flatten(1), t[:, None], ctx], -1)).view_as(x)
        return v, torch.tanh(self.f(ctx))

    def trainable_parameters(self):
        return list(self.net.parameters())

    def set_eval(self):
        self.eval()


def test_chain_ppo_learns_a_contextual_bandit():
    """The whole update (chain log-probs, GAE, critic, clipped ratio) must move the policy towards reward:
    reward 1 when the first executed action lands within 0.25 of a per-episode target read from the context."""
    torch.manual_seed(0)
    adapter = BanditAdapter()
    adapter.set_eval()
    chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=4, sigma=SigmaSchedule("learned", 0.1, 0.3))
    critic = PrivilegedCritic(2)
    opt = torch.optim.Adam([{"params": adapter.trainable_parameters(), "lr": 2e-3},
                            {"params": list(chain.noise_head.parameters()), "lr": 1e-3}])  # fmt: skip
    copt = torch.optim.Adam(critic.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    cfg = PPOConfig(ratio_mode="element", clip=0.2, target_kl=None, gamma=0.0, lam=0.0, epochs=3, value_epochs=2)
    rates = []
    for _ in range(25):
        t_len, n = 2, 64
        ctxs, chains, logps, rewards = [], [], [], []
        for _ in range(t_len):
            ctx = torch.rand(n, 2, generator=gen) * 2 - 1
            s = chain.sample(adapter, ctx, n, generator=gen)
            rewards.append(((s.action[:, 0] - ctx).norm(dim=-1) < 0.25).float())
            ctxs.append(ctx)
            chains.append(s.chain)
            logps.append(s.logp)
        done = torch.ones(t_len, n, dtype=torch.bool)
        ctx_t = torch.stack(ctxs)
        ro = Rollout(ctxs, torch.stack(chains), torch.stack(logps), ctx_t, torch.stack(rewards), done, done.clone(),
                     ctx_t, torch.zeros(n, 2))  # fmt: skip
        stats = ppo_update(adapter, chain, critic, opt, copt, ro, cfg, gen)
        assert stats["first_ratio_err"] < 1e-4
        rates.append(float(torch.stack(rewards).mean()))
    assert np.mean(rates[:3]) < 0.25 and np.mean(rates[-5:]) > np.mean(rates[:3]) + 0.4, rates
