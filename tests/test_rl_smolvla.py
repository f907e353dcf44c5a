"""ReinFlow on SmolVLA (stock ``smolvla`` and ``smolvla_tactile``) through the RL core, offline on CPU.

Real SmolVLA code over a tiny SmolVLM built from a local config (random weights, byte-level tokenizer:
lerobot_policy_smolvla_tactile.local_smolvlm), real MuJoCo envs with a 32 px camera, the RL core's own collector
and PPO update, and stock ``lerobot-eval`` on the exported checkpoint in a subprocess.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.factory import make_pre_post_processors
from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy
from lerobot_cli import run_cli
from lerobot_policy_smolvla_tactile.configuration_smolvla_tactile import SmolVLATactileConfig
from lerobot_policy_smolvla_tactile.local_smolvlm import image_size_of, write_local_smolvlm
from lerobot_policy_smolvla_tactile.modeling_smolvla_tactile import SmolVLATactilePolicy
from safetensors import safe_open

from so101_sim.rl.adapters import load_adapter
from so101_sim.rl.adapters.smolvla import SmolVLAAdapter
from so101_sim.rl.chain import ReinFlowChain, reduce_logp
from so101_sim.rl.collector import ChunkCollector, make_train_envs
from so101_sim.rl.critic import PrivilegedCritic
from so101_sim.rl.ppo import PPOConfig, ppo_update
from so101_sim.rl.protocol import tree_map

TACTILE_KEY = "observation.tactile.force_grid"
IMG, CHUNK, N_EXEC, K = 32, 8, 4, 2
STD = 40.0  # so101_follower units: degrees, gripper 0..100


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> Path:
    return write_local_smolvlm(tmp_path_factory.mktemp("vlm") / "tiny_smolvlm", size="tiny")


def _save_checkpoint(root: Path, vlm: Path, kind: str) -> Path:
    """A smolvla / smolvla_tactile checkpoint directory (policy + processors) for the so101 sim's features."""
    inputs = {
        "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
        "observation.images.camera1": PolicyFeature(FeatureType.VISUAL, (3, IMG, IMG)),
    }
    stats = {
        "observation.state": {"mean": np.zeros(6), "std": np.full(6, STD)},
        "action": {"mean": np.zeros(6), "std": np.full(6, STD)},
    }
    common = {
        "vlm_model_name": str(vlm), "resize_imgs_with_padding": (image_size_of("tiny"),) * 2, "chunk_size": CHUNK,
        "n_action_steps": CHUNK, "num_steps": 3, "device": "cpu",
        "output_features": {"action": PolicyFeature(FeatureType.ACTION, (6,))},
    }  # fmt: skip
    torch.manual_seed(0)
    if kind == "smolvla":
        cfg = SmolVLAConfig(input_features=inputs, **common)
        policy = SmolVLAPolicy(cfg, dataset_stats=stats)
    else:
        inputs[TACTILE_KEY] = PolicyFeature(FeatureType.STATE, (2, 10, 12, 3))
        stats[TACTILE_KEY] = {"mean": np.zeros(3), "std": np.array([0.05, 0.05, 0.2])}
        cfg = SmolVLATactileConfig(input_features=inputs, use_tactile=True, **common)
        policy = SmolVLATactilePolicy(cfg, dataset_stats=stats)
    pre, post = make_pre_post_processors(cfg, dataset_stats=stats)
    out = root / kind
    for part in (policy, pre, post):
        part.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def checkpoints(tiny_vlm, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ckpt")
    return {kind: _save_checkpoint(root, tiny_vlm, kind) for kind in ("smolvla", "smolvla_tactile")}


def _synthetic_obs(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "pixels": {"camera1": rng.integers(0, 256, (n, IMG, IMG, 3), dtype=np.uint8)},
        "agent_pos": rng.normal(0.0, 30.0, (n, 6)).astype(np.float32),
    }


def _leaves(ctx) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    tree_map(out.append, ctx)
    return out


def _frozen_and_trained(adapter: SmolVLAAdapter) -> tuple[dict, dict]:
    trained = {id(p) for p in adapter.trainable_parameters()}
    frozen, train = {}, {}
    for name, p in adapter.policy.named_parameters():
        (train if id(p) in trained else frozen)[name] = p
    return frozen, train


# ---------------------------------------------------------------------------------------------------------------


def test_deterministic_chain_is_stock_smolvla_sampling(checkpoints):
    """With no noise and the same x_0 and K, the chain reproduces SmolVLAPolicy.predict_action_chunk (what
    lerobot-eval runs): no train-time vs eval-time sampler mismatch. Only executed steps x real joints are noisy."""
    adapter = SmolVLAAdapter.from_pretrained(checkpoints["smolvla"], device="cpu", n_exec=N_EXEC)
    assert adapter.spec.time_direction == "reverse" and adapter.spec.real_dims == 6
    assert (adapter.spec.horizon, adapter.spec.action_dim, adapter.spec.n_exec) == (CHUNK, 32, N_EXEC)
    assert adapter.num_steps == 3 and not adapter.policy.training
    obs, tasks = _synthetic_obs(3), ["lift the cube"] * 3
    ctx = adapter.encode(obs, tasks)
    chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=adapter.num_steps)
    det = chain.sample(adapter, ctx, 3, generator=torch.Generator().manual_seed(1), deterministic=True)
    stock = adapter.policy.predict_action_chunk(adapter.preprocess(obs, tasks), noise=det.chain[:, 0].clone())
    assert stock.shape == (3, CHUNK, 6)
    torch.testing.assert_close(det.action[:, :, :6], stock, atol=1e-5, rtol=0)

    noisy = chain.sample(adapter, ctx, 3, generator=torch.Generator().manual_seed(2))
    mask = chain.mask.bool()
    assert mask.sum() == N_EXEC * 6
    assert (noisy.logp[:, :, ~mask] == 0).all() and (noisy.logp[:, :, mask] != 0).all()
    lo, hi = chain.sigma_bounds.tolist()
    assert ((noisy.sigma[:, :, mask] >= lo - 1e-6) & (noisy.sigma[:, :, mask] <= hi + 1e-6)).all()
    env_actions = adapter.to_env_actions(noisy.action)
    assert env_actions.shape == (3, N_EXEC, 6)
    np.testing.assert_allclose(env_actions, noisy.action[:, :N_EXEC, :6].numpy() * STD, rtol=1e-5, atol=1e-4)


def test_adapter_errors_are_clear(checkpoints, tiny_vlm):
    with pytest.raises(ValueError, match="n_exec"):
        SmolVLAAdapter.from_pretrained(checkpoints["smolvla"], device="cpu", n_exec=CHUNK + 1)
    with pytest.raises(TypeError, match="SmolVLAPolicy"):
        SmolVLAAdapter(torch.nn.Linear(2, 2), None, None)
    adapter = SmolVLAAdapter.from_pretrained(checkpoints["smolvla_tactile"], device="cpu", rename_map={})
    with pytest.raises(KeyError, match=re.escape(TACTILE_KEY)):
        adapter.encode(_synthetic_obs(2), ["lift"] * 2)
    with pytest.raises(ValueError, match="task strings"):
        adapter.encode(_synthetic_obs(2), ["lift"])


@pytest.mark.parametrize("kind", ["smolvla", "smolvla_tactile"])
def test_rollout_ppo_step_and_export(kind, checkpoints, tmp_path):
    """One rollout in the real sim + one PPO step with the RL core; then an ordinary checkpoint of the same type,
    which stock ``lerobot-eval --env.type=so101`` runs (touch renamed from environment_state for smolvla_tactile)."""
    adapter = load_adapter(checkpoints[kind], device="cpu", n_exec=N_EXEC, num_steps=K)
    assert isinstance(adapter, SmolVLAAdapter)
    envs = make_train_envs("Lift-v0", 2, episode_length=12, **adapter.env_kwargs)
    try:
        chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=K)
        frozen, trained = _frozen_and_trained(adapter)
        assert frozen and all(not p.requires_grad for p in frozen.values())
        assert all(n.startswith(("model.vlm_with_expert.lm_expert.", "model.action_")) for n in trained)
        assert all(p.dtype == torch.float32 for p in trained.values())
        frozen_before = {n: p.detach().clone() for n, p in frozen.items()}
        trained_before = {n: p.detach().clone() for n, p in trained.items()}

        # The prefix is computed once per observation: SigLIP runs once per decision and camera, never during
        # the K denoising steps or the PPO update.
        vision_calls = []
        vision = adapter.policy.model.vlm_with_expert.get_vlm_model().vision_model
        hook = vision.register_forward_hook(lambda *_: vision_calls.append(1))
        collector = ChunkCollector(envs, adapter, chain, seed=0)
        rollout = collector.collect(decisions=2, generator=torch.Generator().manual_seed(0))
        assert rollout.chains.shape == (2, 2, K + 1, CHUNK, 32) and len(vision_calls) == 2
        ctx_before = [tree_map(lambda t: t.clone(), c) for c in rollout.contexts]

        # Ratio 1: the stored chains re-scored in fp32 give the rollout's log-probs.
        for t in range(2):
            score = chain.score(adapter, rollout.contexts[t], rollout.chains[t])
            torch.testing.assert_close(score.logp, rollout.logp[t], atol=1e-5, rtol=0)
            ratio = torch.exp(
                reduce_logp(score.logp, chain.mask, "sum") - reduce_logp(rollout.logp[t], chain.mask, "sum")
            )
            torch.testing.assert_close(ratio, torch.ones_like(ratio), atol=1e-5, rtol=0)

        # Gradients reach the expert and the noise head, never the frozen VLM / state projection.
        score = chain.score(adapter, rollout.contexts[0], rollout.chains[0])
        reduce_logp(score.logp, chain.mask, "mean").sum().backward()
        assert all(p.grad is None for p in frozen.values())
        expert = adapter.policy.model.vlm_with_expert.lm_expert
        assert sum(float(p.grad.abs().sum()) for p in expert.parameters() if p.grad is not None) > 0
        assert float(adapter.policy.model.action_in_proj.weight.grad.abs().sum()) > 0
        assert float(chain.noise_head.out_tokens.weight.grad.abs().sum()) > 0
        for p in [*adapter.trainable_parameters(), *chain.parameters()]:
            p.grad = None

        critic = PrivilegedCritic(rollout.privileged.shape[-1])
        actor_opt = torch.optim.Adam(
            [{"params": adapter.trainable_parameters(), "lr": 1e-3}, {"params": list(chain.parameters()), "lr": 1e-3}]
        )
        critic_opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
        ppo_cfg = PPOConfig(epochs=1, minibatches=2, value_epochs=1, ratio_check_tol=1e-5)
        stats = ppo_update(
            adapter, chain, critic, actor_opt, critic_opt, rollout, ppo_cfg, torch.Generator().manual_seed(0)
        )
        assert stats["first_ratio_err"] <= 1e-5 and stats["logp_drift"] <= 1e-5, stats
        hook.remove()
        assert len(vision_calls) == 2, "the PPO update recomputed the prefix"
        assert not adapter.policy.training
        for before, after in zip(ctx_before, rollout.contexts, strict=True):  # the cache is never written
            flat_b, flat_a = _leaves(before), _leaves(after)
            assert len(flat_a) == len(flat_b) and all(torch.equal(a, b) for a, b in zip(flat_a, flat_b, strict=True))
        assert all(torch.equal(frozen[n], frozen_before[n]) for n in frozen)
        changed = [n for n in trained if not torch.equal(trained[n], trained_before[n])]
        assert any(n.startswith("model.vlm_with_expert.lm_expert.") for n in changed)
    finally:
        envs.close()

    # Export: an ordinary checkpoint of the policy's own type, without the noise head, with the updated expert.
    export = adapter.export(tmp_path / "pretrained_model")
    config = json.loads((export / "config.json").read_text())
    assert config["type"] == kind and config["n_action_steps"] == N_EXEC and config["num_steps"] == K
    with safe_open(str(export / "model.safetensors"), "pt") as f, \
            safe_open(str(checkpoints[kind] / "model.safetensors"), "pt") as g:  # fmt: skip
        saved, source = set(f.keys()), set(g.keys())  # safe_open handles, not dicts
    assert saved == source and not any("noise" in k for k in saved)
    reloaded = SmolVLAAdapter.from_pretrained(export, device="cpu")
    own = dict(adapter.policy.named_parameters())
    for name, p in reloaded.policy.named_parameters():
        assert torch.equal(p, own[name]), name
    assert (export / "policy_preprocessor.json").is_file() and (export / "policy_postprocessor.json").is_file()

    out = tmp_path / "eval"
    args = [
        f"--policy.path={export}", "--policy.device=cpu", "--env.type=so101", "--env.task=Lift-v0",
        "--env.cameras=[camera1]", f"--env.image_size={IMG}", "--env.episode_length=8", "--eval.n_episodes=1",
        "--eval.batch_size=1", f"--output_dir={out}",
    ]  # fmt: skip
    if kind == "smolvla_tactile":
        args += [
            "--env.environment_state=tactile",
            f'--rename_map={{"observation.environment_state": "{TACTILE_KEY}"}}',
        ]
    env = {"OMP_NUM_THREADS": "1", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    proc = run_cli("lerobot-eval", *args, cwd=tmp_path, env=env, timeout=400)
    assert "'pc_success'" in proc.stdout + proc.stderr
    assert json.loads((out / "eval_info.json").read_text())["overall"]["n_episodes"] == 1
