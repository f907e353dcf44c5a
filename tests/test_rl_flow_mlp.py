"""The ``flow_mlp`` policy type with stock LeRobot: discovery, lerobot-train, lerobot-eval; and so101-sim rl
train / --resume / stats producing an ordinary checkpoint that stock ``lerobot-eval`` loads (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from so101_sim.lerobot.compat import TRAIN_ENV_EVAL_FREQ

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", WANDB_MODE="disabled", MUJOCO_GL=env.get("MUJOCO_GL", "egl"))
    return env


def _lerobot(cmd: str, *args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name(cmd)
    proc = subprocess.run(
        [str(exe), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> Path:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from so101_sim.cli import main

    root = tmp_path_factory.mktemp("rl_demos") / "lift3"
    assert main(["record-demos", "--task", "Lift-v0", "--episodes", "3", "--repo-id", "local/lift3",
                 "--root", str(root), "--state-only"]) == 0  # fmt: skip
    ds = LeRobotDataset("local/lift3", root=root)
    assert sorted(ds.meta.features) == sorted(
        ["action", "observation.state", "observation.environment_state", "timestamp", "frame_index",
         "episode_index", "index", "task_index"]
    ) and ds.meta.video_keys == [] and ds.meta.total_episodes == 3  # fmt: skip
    return root


@pytest.fixture(scope="module")
def bc_ckpt(demos, tmp_path_factory) -> Path:
    from so101_sim.rl.bc import BCOptions, train_bc

    out = tmp_path_factory.mktemp("rl_bc") / "flow_mlp"
    return train_bc(BCOptions(dataset_root=demos, repo_id="local/lift3", output=out, steps=30, batch_size=32, progress=False))


def test_flow_mlp_is_a_registered_lerobot_policy_type():
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    import so101_sim.lerobot  # noqa: F401 - what the lerobot_policy_so101 plugin imports
    from so101_sim.lerobot.policy.modeling_flow_mlp import FlowMLPPolicy

    cls = PreTrainedConfig.get_choice_class("flow_mlp")
    assert get_policy_class("flow_mlp") is FlowMLPPolicy
    cfg = cls(device="cpu", push_to_hub=False, use_images=True)
    cfg.input_features = {
        "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
        "observation.images.camera1": PolicyFeature(FeatureType.VISUAL, (3, 96, 96)),
    }
    cfg.output_features = {"action": PolicyFeature(FeatureType.ACTION, (6,))}
    pre, _ = make_pre_post_processors(cfg)  # lerobot finds processor_flow_mlp by name
    assert pre.steps[0].__class__.__name__ == "RenameObservationsProcessorStep"
    policy = FlowMLPPolicy(cfg)
    batch = {"observation.state": torch.randn(2, 6), "observation.images.camera1": torch.rand(2, 3, 96, 96),
             "action": torch.randn(2, 20, 6), "action_is_pad": torch.zeros(2, 20, dtype=torch.bool)}  # fmt: skip
    loss, _ = policy.forward(batch)
    loss.backward()
    assert policy.image_encoders["observation_images_camera1"].net[0].weight.grad is not None
    policy.eval()
    policy.reset()
    a = policy.select_action(batch)
    assert a.shape == (2, 6) and len(policy._queue) == cfg.n_action_steps - 1
    with pytest.raises(ValueError, match="n_action_steps"):
        cls(chunk_size=5, n_action_steps=10)


def test_stock_lerobot_train_trains_flow_mlp(demos, tmp_path):
    out = tmp_path / "train"
    _lerobot(
        "lerobot-train", "--policy.type=flow_mlp", "--policy.push_to_hub=false", "--policy.device=cpu",
        "--dataset.repo_id=local/lift3", f"--dataset.root={demos}", f"--output_dir={out}", "--steps=2",
        "--batch_size=4", "--save_freq=2", f"--{TRAIN_ENV_EVAL_FREQ}=0", "--log_freq=1", "--num_workers=0",
        cwd=tmp_path,
    )  # fmt: skip
    cfg = json.loads((out / "checkpoints" / "000002" / "pretrained_model" / "config.json").read_text())
    assert cfg["type"] == "flow_mlp" and cfg["chunk_size"] == 20


def test_rl_train_resume_stats_and_stock_lerobot_eval(bc_ckpt, tmp_path):
    from so101_sim.cli import main

    run = tmp_path / "run"
    common = ["--n-envs", "2", "--episode-length", "30", "--decisions", "2", "--eval-episodes", "2",
              "--eval-seed", "5000", "--critic-warmup", "0", "--video-every", "2", "--no-progress"]  # fmt: skip
    assert main(["rl", "train", f"--policy.path={bc_ckpt}", "--output-dir", str(run), "--iterations", "1", *common]) == 0
    state1 = torch.load(run / "checkpoints" / "last" / "training_state.pt", weights_only=False)
    assert state1["iteration"] == 1 and len(state1["stats"]) == 1
    with pytest.raises(FileExistsError):  # a second run into the same directory never overwrites it
        main(["rl", "train", f"--policy.path={bc_ckpt}", "--output-dir", str(run), "--iterations", "1", *common])
    assert main(["rl", "train", "--resume", str(run), "--iterations", "2", "--no-progress"]) == 0
    state2 = torch.load(run / "checkpoints" / "last" / "training_state.pt", weights_only=False)
    assert state2["iteration"] == 2 and [r["iteration"] for r in state2["stats"]] == [1, 2]
    steps = [s["step"] for s in state2["actor_opt"]["state"].values()]
    assert min(float(s) for s in steps) == 2 * float(state1["actor_opt"]["state"][0]["step"])  # optimizer carried on
    rows = [r for r in (run / "stats.csv").read_text().splitlines()[1:] if r]
    assert len(rows) == 2 and (run / "success.png").stat().st_size > 1000
    assert main(["rl", "stats", str(run)]) == 0
    videos = sorted((run / "videos").rglob("*.mp4"))
    assert {v.parent.name for v in videos} == {"iter_0001", "iter_0002"} and min(v.stat().st_size for v in videos) > 1000

    ckpt = run / "checkpoints" / "last" / "pretrained_model"
    cfg = json.loads((ckpt / "config.json").read_text())
    assert cfg["type"] == "flow_mlp" and cfg["num_inference_steps"] == 4
    from safetensors.torch import load_file

    assert not any("noise" in k for k in load_file(ckpt / "model.safetensors"))  # no noise head in the export
    eval_dir = tmp_path / "eval"
    _lerobot(
        "lerobot-eval", f"--policy.path={ckpt}", "--env.type=so101", "--env.task=Lift-v0", "--env.cameras=[]",
        "--env.episode_length=20", "--eval.n_episodes=2", "--eval.batch_size=2", "--policy.device=cpu",
        f"--output_dir={eval_dir}", cwd=tmp_path,
    )  # fmt: skip
    info = json.loads((eval_dir / "eval_info.json").read_text())
    assert "pc_success" in info["overall"]
    assert np.isfinite(info["overall"]["avg_sum_reward"])


def test_flow_mlp_adapter_with_camera_images_rollout_and_rescore(tmp_path):
    """The image-seeing flow_mlp through the RL adapter: frozen CNN features cached in the context, ratio 1,
    gradients into the trainable MLPs only, actions in env units, and an export stock LeRobot reloads."""
    from lerobot.configs.types import FeatureType, PolicyFeature

    import so101_sim.lerobot  # noqa: F401
    from so101_sim.lerobot.policy.configuration_flow_mlp import FlowMLPConfig
    from so101_sim.lerobot.policy.modeling_flow_mlp import FlowMLPPolicy
    from so101_sim.lerobot.policy.processor_flow_mlp import make_flow_mlp_pre_post_processors
    from so101_sim.rl.adapters import load_adapter
    from so101_sim.rl.adapters.flow_mlp import FlowMLPAdapter
    from so101_sim.rl.chain import ReinFlowChain, reduce_logp

    cfg = FlowMLPConfig(device="cpu", push_to_hub=False, use_images=True, image_resize=32)
    cfg.input_features = {
        "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
        "observation.images.wrist": PolicyFeature(FeatureType.VISUAL, (3, 48, 64)),
    }
    cfg.output_features = {"action": PolicyFeature(FeatureType.ACTION, (6,))}
    stats = {"observation.state": {"mean": torch.zeros(6), "std": torch.full((6,), 30.0)},
             "action": {"mean": torch.full((6,), 10.0), "std": torch.full((6,), 20.0)}}  # fmt: skip
    pre, post = make_flow_mlp_pre_post_processors(cfg, dataset_stats=stats)
    adapter = FlowMLPAdapter(FlowMLPPolicy(cfg), pre, post, num_steps=2)
    adapter.set_eval()
    rng = np.random.default_rng(0)
    obs = {"agent_pos": rng.normal(0, 30, (3, 6)).astype(np.float32),
           "pixels": {"wrist": rng.integers(0, 255, (3, 48, 64, 3), dtype=np.uint8)}}  # fmt: skip
    ctx = adapter.encode(obs, ["Pick up the red cube."] * 3)
    assert ctx.shape == (3, 6 + cfg.image_embed_dim) and not ctx.requires_grad
    chain = ReinFlowChain(adapter.spec, adapter.feature_dim, k_steps=2)
    s = chain.sample(adapter, ctx, 3, generator=torch.Generator().manual_seed(0))
    sc = chain.score(adapter, ctx, s.chain)
    assert float((sc.logp.detach() - s.logp).abs().max()) < 1e-5
    reduce_logp(sc.logp, chain.step_mask, "sum").sum().backward()
    assert all(p.grad is None for p in adapter.policy.image_encoders.parameters())  # frozen during RL
    assert adapter.policy.velocity_net[0].weight.grad.abs().sum() > 0
    act = adapter.to_env_actions(s.action)
    assert act.shape == (3, cfg.n_action_steps, 6)
    torch.testing.assert_close(torch.as_tensor(act), s.action[:, :10] * 20.0 + 10.0)  # un-normalised
    out = adapter.export(tmp_path / "ckpt")
    again = load_adapter(out)
    assert again.policy.config.num_inference_steps == 2 and again.policy.config.use_images


def test_failure_taxonomy_and_inprocess_eval_on_the_same_seeds(bc_ckpt):
    from so101_sim.rl.evaluate import failure_taxonomy, lerobot_eval, wilson_lower

    counts = failure_taxonomy(bc_ckpt, n_episodes=3, start_seed=7000, batch_size=2, episode_length=25)
    assert sum(counts.values()) == 3 and set(counts) == {"success", "no_contact", "slip", "not_high_enough"}
    ev = lerobot_eval(bc_ckpt, n_episodes=3, start_seed=7000, batch_size=2, episode_length=25)
    assert ev["seeds"] == [7000, 7001, 7002] and ev["n"] == 3
    assert wilson_lower(0, 10) == 0.0 and abs(wilson_lower(90, 100) - 0.8256) < 1e-3
