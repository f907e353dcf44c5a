"""Tests of the smolvla_tactile policy plugin (plugins/lerobot_policy_smolvla_tactile), offline on CPU.

Every policy here is real SmolVLA code over a tiny SmolVLM built from a local config (random weights, byte-level
tokenizer; see lerobot_policy_smolvla_tactile.local_smolvlm). The training test runs the stock `lerobot-train`
console script in a subprocess, so the plugin is found the way users get it: through LeRobot's discovery of
installed `lerobot_policy_*` distributions.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy, VLAFlowMatching
from lerobot_policy_smolvla_tactile.configuration_smolvla_tactile import SmolVLATactileConfig
from lerobot_policy_smolvla_tactile.local_smolvlm import image_size_of, write_local_smolvlm
from lerobot_policy_smolvla_tactile.modeling_smolvla_tactile import (
    ArmHandEnhancedHead,
    SmolVLATactilePolicy,
)

TACTILE_KEY = "observation.tactile.force_grid"
GRID = (2, 10, 12, 3)
STATE_DIM, ACTION_DIM, CHUNK = 27, 7, 8
IMG = 32


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> Path:
    return write_local_smolvlm(tmp_path_factory.mktemp("vlm") / "tiny_smolvlm", size="tiny")


def _features() -> tuple[dict, dict]:
    inputs = {
        "observation.state": PolicyFeature(FeatureType.STATE, (STATE_DIM,)),
        "observation.images.camera1": PolicyFeature(FeatureType.VISUAL, (3, IMG, IMG)),
        TACTILE_KEY: PolicyFeature(FeatureType.STATE, GRID),
    }
    return inputs, {"action": PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))}


def _config(cls, vlm: Path, **overrides):
    inputs, outputs = _features()
    kwargs = {
        "vlm_model_name": str(vlm),
        "resize_imgs_with_padding": (image_size_of("tiny"),) * 2,
        "chunk_size": CHUNK,
        "n_action_steps": CHUNK,
        "num_steps": 3,
        "device": "cpu",
        "input_features": inputs,
        "output_features": outputs,
    }
    kwargs.update(overrides)
    return cls(**kwargs)


def _batch(bsize: int = 3, seed: int = 0, tactile_time_dim: bool = True) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    grid_shape = (bsize, 1, *GRID) if tactile_time_dim else (bsize, *GRID)
    return {
        "observation.state": torch.randn(bsize, 1, STATE_DIM, generator=g),
        "observation.images.camera1": torch.rand(bsize, 1, 3, IMG, IMG, generator=g),
        "observation.language.tokens": torch.randint(0, 250, (bsize, 7), generator=g),
        "observation.language.attention_mask": torch.ones(bsize, 7, dtype=torch.bool),
        "action": torch.randn(bsize, CHUNK, ACTION_DIM, generator=g),
        "action_is_pad": torch.zeros(bsize, CHUNK, dtype=torch.bool),
        TACTILE_KEY: torch.randn(*grid_shape, generator=g),
    }


def _noise_time(bsize: int, max_action_dim: int = 32, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(bsize, CHUNK, max_action_dim, generator=g), torch.rand(bsize, generator=g) * 0.9 + 0.05


# ---------------------------------------------------------------------------------------------------------------
# Stock equivalence
# ---------------------------------------------------------------------------------------------------------------


def test_tactile_and_enhancement_off_is_numerically_stock(tiny_vlm):
    torch.manual_seed(0)
    stock = SmolVLAPolicy(_config(SmolVLAConfig, tiny_vlm))
    ours = SmolVLATactilePolicy(_config(SmolVLATactileConfig, tiny_vlm))
    ours.load_state_dict(stock.state_dict(), strict=True)  # same modules, same names
    batch = _batch()
    noise, time = _noise_time(3)

    loss_stock, _ = stock.forward(dict(batch), noise=noise, time=time)
    loss_ours, _ = ours.forward(dict(batch), noise=noise, time=time)
    assert torch.equal(loss_stock, loss_ours)

    # Noise and time drawn inside: the same seed gives the same draws in the same order.
    torch.manual_seed(123)
    loss_stock, _ = stock.forward(dict(batch))
    torch.manual_seed(123)
    loss_ours, _ = ours.forward(dict(batch))
    assert torch.equal(loss_stock, loss_ours)

    per_sample_stock, _ = stock.forward(dict(batch), noise=noise, time=time, reduction="none")
    per_sample_ours, _ = ours.forward(dict(batch), noise=noise, time=time, reduction="none")
    assert per_sample_ours.shape == (3,) and torch.equal(per_sample_stock, per_sample_ours)

    chunk_noise = torch.randn(3, CHUNK, 32)
    actions_stock = stock.predict_action_chunk(dict(batch), noise=chunk_noise)
    actions_ours = ours.predict_action_chunk(dict(batch), noise=chunk_noise)
    assert actions_ours.shape == (3, CHUNK, ACTION_DIM)
    assert torch.equal(actions_stock, actions_ours)


@pytest.mark.not_on_line(
    "lerobot06", reason="LeRobot 0.6 fixed the pad-key typo itself (lerobot#1707): stock masks padded steps"
)
def test_pad_key_fix_masks_steps_past_episode_end(tiny_vlm):
    torch.manual_seed(0)
    stock = SmolVLAPolicy(_config(SmolVLAConfig, tiny_vlm))
    ours = SmolVLATactilePolicy(_config(SmolVLATactileConfig, tiny_vlm))
    ours.load_state_dict(stock.state_dict())
    batch = _batch()
    batch["action_is_pad"][0, 5:] = True
    batch["action_is_pad"][2, 2:] = True
    noise, time = _noise_time(3)

    loss_stock_typo, _ = stock.forward(dict(batch), noise=noise, time=time)  # stock ignores action_is_pad
    loss_ours, _ = ours.forward(dict(batch), noise=noise, time=time)
    stock_with_its_key = dict(batch, actions_id_pad=batch["action_is_pad"])
    loss_stock_masked, _ = stock.forward(stock_with_its_key, noise=noise, time=time)
    assert torch.equal(loss_ours, loss_stock_masked)
    assert not torch.equal(loss_ours, loss_stock_typo)


# ---------------------------------------------------------------------------------------------------------------
# Tactile input
# ---------------------------------------------------------------------------------------------------------------


def test_tactile_tokens_reach_the_actions_and_both_layouts_agree(tiny_vlm):
    torch.manual_seed(0)
    cfg = _config(
        SmolVLATactileConfig, tiny_vlm, use_tactile=True, num_fingertips=2,
        tactile_tokenization={"resultant_tokens": 2, "spatial_tokens": 1},
    )  # fmt: skip
    policy = SmolVLATactilePolicy(cfg).eval()
    assert policy.model.tactile_embedding.num_tokens == 3
    batch = _batch(tactile_time_dim=True)  # (B, 1, N, R, C, 3) as in training batches
    flat = dict(batch, **{TACTILE_KEY: batch[TACTILE_KEY][:, 0]})  # (B, N, R, C, 3) as at eval
    noise = torch.randn(3, CHUNK, 32)
    with_time_dim = policy.predict_action_chunk(dict(batch), noise=noise)
    without = policy.predict_action_chunk(dict(flat), noise=noise)
    assert torch.equal(with_time_dim, without)

    other_touch = dict(flat, **{TACTILE_KEY: flat[TACTILE_KEY] + 2.0})
    assert not torch.allclose(policy.predict_action_chunk(other_touch, noise=noise), without)

    # The prefix grows by exactly the tactile tokens, in the state token's attention block.
    images, img_masks = policy.prepare_images(flat)
    state = policy.prepare_state(flat)
    args = (images, img_masks, flat["observation.language.tokens"], flat["observation.language.attention_mask"])
    with policy.model.tactile_input(flat[TACTILE_KEY]):
        embs, pad_masks, att_masks = policy.model.embed_prefix(*args, state=state)
    stock_embs, _, _ = VLAFlowMatching.embed_prefix(policy.model, *args, state=state)
    assert embs.shape[1] == stock_embs.shape[1] + 3
    assert torch.equal(embs[:, : stock_embs.shape[1]], stock_embs)
    assert att_masks[0, -4:].tolist() == [True, False, False, False]  # state opens a block, touch joins it
    assert pad_masks[:, -3:].all()


def test_missing_or_misshapen_tactile_input_raises_naming_the_key(tiny_vlm):
    policy = SmolVLATactilePolicy(_config(SmolVLATactileConfig, tiny_vlm, use_tactile=True)).eval()
    batch = _batch()
    del batch[TACTILE_KEY]
    with pytest.raises(KeyError, match=re.escape(TACTILE_KEY)) as err:
        policy.select_action(dict(batch))
    assert "rename_map" in str(err.value)
    with pytest.raises(KeyError, match=re.escape(TACTILE_KEY)):
        policy.forward(dict(batch))
    wrong = dict(_batch(), **{TACTILE_KEY: torch.zeros(3, 2, 10, 12)})
    with pytest.raises(ValueError, match=re.escape(TACTILE_KEY)):
        policy.forward(wrong)


def test_config_rejects_a_dataset_without_the_tactile_feature(tiny_vlm):
    inputs, _ = _features()
    del inputs[TACTILE_KEY]
    with pytest.raises(ValueError, match=re.escape(TACTILE_KEY)):
        SmolVLATactilePolicy(_config(SmolVLATactileConfig, tiny_vlm, use_tactile=True, input_features=inputs))
    with pytest.raises(ValueError, match="num_fingertips=3"):
        SmolVLATactilePolicy(_config(SmolVLATactileConfig, tiny_vlm, use_tactile=True, num_fingertips=3))
    with pytest.raises(ValueError, match="un-normalised"):
        SmolVLATactilePolicy(
            _config(SmolVLATactileConfig, tiny_vlm, use_tactile=True),
            dataset_stats={"observation.state": {"mean": np.zeros(STATE_DIM), "std": np.ones(STATE_DIM)}},
        )


def test_reconstruction_loss_trains_the_autoencoder(tiny_vlm):
    torch.manual_seed(0)
    cfg = _config(SmolVLATactileConfig, tiny_vlm, use_tactile=True, tactile_recon_loss_weight=0.5)
    policy = SmolVLATactilePolicy(cfg)
    batch = _batch()
    noise, time = _noise_time(3)
    total, info = policy.forward(dict(batch), noise=noise, time=time)
    assert math.isclose(info["loss"], info["loss_main"] + 0.5 * info["loss_tactile_recon"], rel_tol=1e-5)
    total.backward()
    decoder_grad = policy.model.tactile_embedding.decoder.fc.weight.grad
    assert decoder_grad is not None and decoder_grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------------------------------
# Arm-hand feature enhancement
# ---------------------------------------------------------------------------------------------------------------


def test_arm_hand_losses_are_combined_and_supervised_on_their_indices_only(tiny_vlm):
    torch.manual_seed(0)
    cfg = _config(
        SmolVLATactileConfig, tiny_vlm, use_tactile=True, use_arm_hand_feature_enhancement=True,
        arm_indices=[0, 1, 2, 3, 4, 5], hand_indices=[6], aux_loss_lambda=0.7,
    )  # fmt: skip
    policy = SmolVLATactilePolicy(cfg)
    head = policy.model.action_out_proj
    assert isinstance(head, ArmHandEnhancedHead)
    hidden = torch.randn(2, CHUNK, head.in_features)
    # E_arm / E_hand start at zero: the main head initially equals a plain linear head (and a stock checkpoint's).
    assert torch.equal(head(hidden), torch.nn.functional.linear(hidden, head.weight, head.bias))
    # Once trained, the fused inference path equals the two-branch training path.
    with torch.no_grad():
        torch.nn.init.normal_(head.e_out.weight, std=0.05)
    f_arm, f_hand = head.branch_features(hidden)
    two_branch = torch.nn.functional.linear(hidden + f_arm + f_hand, head.weight, head.bias)
    assert torch.allclose(head(hidden), two_branch, atol=1e-5) and not torch.allclose(f_arm, f_hand)

    batch = _batch()
    noise, time = _noise_time(3)
    total, info = policy.forward(dict(batch), noise=noise, time=time)
    expected = info["loss_main"] + 0.7 * (info["loss_arm"] + info["loss_hand"])
    assert math.isclose(info["loss"], expected, rel_tol=1e-5) and math.isclose(total.item(), expected, rel_tol=1e-5)
    per_sample, _ = policy.forward(dict(batch), noise=noise, time=time, reduction="none")
    assert per_sample.shape == (3,) and torch.allclose(per_sample.mean(), total)

    # The auxiliary heads are regressed on the flow-matching target of their own action indices only.
    captured = {}
    hooks = [
        head.h_arm.register_forward_hook(lambda m, i, o: captured.__setitem__("arm", o.detach())),
        head.h_hand.register_forward_hook(lambda m, i, o: captured.__setitem__("hand", o.detach())),
    ]
    batch["action_is_pad"][1, 6:] = True
    _, info = policy.forward(dict(batch), noise=noise, time=time)
    for hook in hooks:
        hook.remove()
    target = noise[..., :ACTION_DIM] - batch["action"]  # u_t = noise - actions
    valid = (~batch["action_is_pad"]).unsqueeze(-1)
    assert captured["arm"].shape == (3, CHUNK, 6) and captured["hand"].shape == (3, CHUNK, 1)
    expected_arm = (((captured["arm"] - target[..., :6]) ** 2) * valid).mean().item()
    expected_hand = (((captured["hand"] - target[..., 6:]) ** 2) * valid).mean().item()
    assert math.isclose(info["loss_arm"], expected_arm, rel_tol=1e-5)
    assert math.isclose(info["loss_hand"], expected_hand, rel_tol=1e-5)

    total.backward()
    for module in (head.h_arm, head.h_hand, head.e_in, head.e_out):
        assert module.weight.grad is not None and module.weight.grad.abs().sum() > 0
    arm_cols, hand_cols = head.e_out.weight.grad.split(head.hidden_dim, dim=1)
    assert arm_cols.abs().sum() > 0 and hand_cols.abs().sum() > 0


# ---------------------------------------------------------------------------------------------------------------
# Initialising from a stock checkpoint
# ---------------------------------------------------------------------------------------------------------------


def test_init_from_stock_checkpoint_loads_its_weights_and_new_modules_start_fresh(tiny_vlm, tmp_path):
    torch.manual_seed(0)
    stock = SmolVLAPolicy(_config(SmolVLAConfig, tiny_vlm))
    stock_dir = tmp_path / "stock_smolvla"
    stock.save_pretrained(stock_dir)

    torch.manual_seed(1)
    cfg = _config(
        SmolVLATactileConfig, tiny_vlm, use_tactile=True, use_arm_hand_feature_enhancement=True,
        init_from=str(stock_dir),
    )  # fmt: skip
    policy = SmolVLATactilePolicy(cfg)
    ours, theirs = policy.state_dict(), stock.state_dict()
    assert set(theirs) <= set(ours)
    for key, value in theirs.items():
        assert torch.equal(ours[key], value), key
    new_keys = set(ours) - set(theirs)
    assert any(k.startswith("model.tactile_embedding.") for k in new_keys)
    assert any(k.startswith("model.action_out_proj.e_in.") for k in new_keys)

    # A saved tactile policy reloads its own weights even once the init_from checkpoint is gone.
    saved = tmp_path / "tactile_policy"
    policy.model.tactile_embedding.resultant_mlp[0].weight.data.add_(1.0)
    policy.save_pretrained(saved)
    shutil.rmtree(stock_dir)
    reloaded = SmolVLATactilePolicy.from_pretrained(saved)
    for key, value in policy.state_dict().items():
        assert torch.equal(reloaded.state_dict()[key], value), key

    with pytest.raises(FileNotFoundError, match="init_from"):
        SmolVLATactilePolicy(_config(SmolVLATactileConfig, tiny_vlm, init_from=str(tmp_path / "nowhere")))


# ---------------------------------------------------------------------------------------------------------------
# Stock lerobot-train on a converted dataset, checkpoint reload, eval-style inference
# ---------------------------------------------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]
LOSS_RE = re.compile(r"step:(\d+) .*? loss:([0-9.]+)")


def _write_isaaclab_demos(path: Path, demos: int = 2, steps: int = 16) -> None:
    """Demos in Isaac Lab's HDF5 layout with the keys of the converter's default `franka_tactile` mapping."""
    sys.path.insert(0, str(REPO_ROOT))
    try:
        from so101_sim.isaaclab_hdf5 import IsaacLabHDF5Writer
    finally:
        sys.path.remove(str(REPO_ROOT))
    joints = np.arange(9)
    with IsaacLabHDF5Writer(path, env_name="Isaac-Lift-Cube-Franka-Tactile-v0", env_args={"fps": 10}) as writer:
        for demo in range(demos):
            writer.begin_demo(seed=demo)
            for t in range(steps):
                x = 0.2 * t + demo
                image = np.zeros((IMG, IMG, 3), np.uint8)
                image[:, (2 * t) % IMG] = 255
                image[(3 * t + 5 * demo) % IMG, :, 1] = 200
                obs = {
                    "joint_pos": np.sin(x + 0.3 * joints).astype(np.float32),
                    "joint_vel": np.cos(x + 0.3 * joints).astype(np.float32),
                    "gripper_pos": np.full(2, 0.04 * np.cos(x), np.float32),
                    "ee_pos": np.array([0.4, 0.1 * np.sin(x), 0.2], np.float32),
                    "ee_quat": np.array([1.0, 0.0, 0.0, 0.0], np.float32),
                    "force_geometric_left": np.array([0.1 * t, -0.5, 2.0 + np.sin(x)], np.float32),
                    "force_geometric_right": np.array([-0.1 * t, 0.5, 2.0 + np.cos(x)], np.float32),
                    "rgb_table": image,
                    "rgb_wrist": image[::-1].copy(),
                }
                writer.add_step(obs, np.sin(x + 0.3 * joints[:7]).astype(np.float32))
            writer.end_demo(success=True)


def _run(cmd: list[str], cwd: Path, env: dict, timeout: int) -> str:
    proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{cmd[0]} {cmd[1]} failed ({proc.returncode}):\n{output[-4000:]}"
    return output


def test_stock_lerobot_train_on_converted_dataset_then_reload_and_infer(tiny_vlm, tmp_path):
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", HF_LEROBOT_HOME=str(tmp_path / "hf_lerobot"), OMP_NUM_THREADS="1",
        WANDB_MODE="disabled", TOKENIZERS_PARALLELISM="false",
    )  # fmt: skip
    hdf5 = tmp_path / "demos.hdf5"
    _write_isaaclab_demos(hdf5)
    _run(
        [sys.executable, str(REPO_ROOT / "converters" / "hdf5_to_lerobot.py"), "--input", str(hdf5),
         "--output-dir", str(tmp_path / "datasets"), "--repo-id", "local/tactile_demo", "--no-progress",
         "--task", "Lift the cube."],
        tmp_path, env, timeout=180,
    )  # fmt: skip
    dataset_root = tmp_path / "datasets" / "local" / "tactile_demo"
    lerobot_train = Path(sys.executable).with_name("lerobot-train")
    out_dir = tmp_path / "train"
    log = _run(
        [str(lerobot_train), f"--dataset.root={dataset_root}", "--dataset.repo_id=local/tactile_demo",
         "--dataset.video_backend=pyav", "--policy.type=smolvla_tactile", "--policy.use_tactile=true",
         "--policy.num_fingertips=2", "--policy.use_arm_hand_feature_enhancement=true",
         "--policy.arm_indices=[0,1,2,3,4,5]", "--policy.hand_indices=[6]", "--policy.aux_loss_lambda=1.0",
         "--policy.empty_cameras=1", f"--policy.vlm_model_name={tiny_vlm}", "--policy.resize_imgs_with_padding=[64,64]",
         f"--policy.chunk_size={CHUNK}", f"--policy.n_action_steps={CHUNK}", "--policy.device=cpu",
         "--policy.push_to_hub=false", "--policy.optimizer_lr=3e-3", "--policy.scheduler_warmup_steps=0",
         "--wandb.enable=false", f"--output_dir={out_dir}", "--steps=30", "--batch_size=8", "--log_freq=5",
         "--save_freq=30", "--num_workers=0", "--seed=0"],
        tmp_path, env, timeout=400,
    )  # fmt: skip
    losses = [float(m.group(2)) for m in LOSS_RE.finditer(log)]
    print("lerobot-train losses every 5 steps:", losses)
    assert len(losses) == 6, log[-3000:]
    assert all(math.isfinite(v) for v in losses)
    first, last = losses[0], sum(losses[-2:]) / 2
    assert last < 0.8 * first, f"loss did not fall while overfitting 32 frames: {losses}"

    pretrained = out_dir / "checkpoints" / "last" / "pretrained_model"
    from safetensors import safe_open

    with safe_open(str(pretrained / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert any(k.startswith("model.tactile_embedding.") for k in keys)
    assert any(k.startswith("model.action_out_proj.h_hand.") for k in keys)

    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.factory import make_pre_post_processors

    policy = SmolVLATactilePolicy.from_pretrained(pretrained)
    assert policy.config.use_tactile and policy.config.use_arm_hand_feature_enhancement
    assert policy.config.tactile_grid_shape == GRID
    with safe_open(str(pretrained / "model.safetensors"), "pt") as f:
        saved = f.get_tensor("model.tactile_embedding.resultant_mlp.0.weight")
    assert torch.equal(policy.model.tactile_embedding.resultant_mlp[0].weight, saved)

    # Inference the way lerobot-eval does it: saved processors, with eval's overrides, and the tactile grid
    # arriving from the env as observation.environment_state.
    preprocessor, postprocessor = make_pre_post_processors(
        policy.config,
        pretrained_path=str(pretrained),
        preprocessor_overrides={
            "device_processor": {"device": "cpu"},
            "rename_observations_processor": {"rename_map": {"observation.environment_state": TACTILE_KEY}},
        },
    )
    dataset = LeRobotDataset("local/tactile_demo", root=dataset_root, video_backend="pyav")
    item = dataset[5]
    obs = {k: item[k].unsqueeze(0) for k in ("observation.state", "observation.images.camera1",
                                             "observation.images.camera2")}  # fmt: skip
    obs["observation.environment_state"] = item[TACTILE_KEY].unsqueeze(0)
    obs["task"] = [item["task"]]
    batch = preprocessor(obs)
    stats = dataset.meta.stats[TACTILE_KEY]
    expected = (item[TACTILE_KEY] - torch.as_tensor(stats["mean"])) / (torch.as_tensor(stats["std"]) + 1e-8)
    assert torch.allclose(batch[TACTILE_KEY][0], expected.float(), atol=1e-4)  # per force-axis normalisation
    policy.reset()
    action = postprocessor(policy.select_action(batch))
    assert action.shape == (1, ACTION_DIM) and torch.isfinite(action).all()

    # Without the rename the tactile input is missing: a clear error, not silent zeros.
    preprocessor_no_rename, _ = make_pre_post_processors(policy.config, pretrained_path=str(pretrained))
    policy.reset()
    with pytest.raises(KeyError, match=re.escape(TACTILE_KEY)):
        policy.select_action(preprocessor_no_rename(dict(obs)))


def test_stock_lerobot_eval_in_the_so101_sim_with_tactile_from_the_env(tiny_vlm, tmp_path):
    """A saved smolvla_tactile policy runs in `lerobot-eval --env.type=so101`, touch renamed from environment_state."""
    from lerobot.policies.factory import make_pre_post_processors

    inputs = {
        "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
        "observation.images.camera1": PolicyFeature(FeatureType.VISUAL, (3, IMG, IMG)),
        "observation.images.camera2": PolicyFeature(FeatureType.VISUAL, (3, IMG, IMG)),
        TACTILE_KEY: PolicyFeature(FeatureType.STATE, GRID),
    }
    outputs = {"action": PolicyFeature(FeatureType.ACTION, (6,))}
    cfg = _config(
        SmolVLATactileConfig, tiny_vlm, input_features=inputs, output_features=outputs, use_tactile=True,
        use_arm_hand_feature_enhancement=True, arm_indices=[0, 1, 2, 3, 4], hand_indices=[5],
    )  # fmt: skip
    # so101_follower units: joints in degrees, gripper 0..100; forces in newtons.
    stats = {
        "observation.state": {"mean": np.zeros(6), "std": np.full(6, 40.0)},
        "action": {"mean": np.zeros(6), "std": np.full(6, 40.0)},
        TACTILE_KEY: {"mean": np.zeros(3), "std": np.array([0.05, 0.05, 0.2])},
    }
    policy = SmolVLATactilePolicy(cfg, dataset_stats=stats)
    preprocessor, postprocessor = make_pre_post_processors(cfg, dataset_stats=stats)
    pretrained = tmp_path / "pretrained_model"
    for part in (policy, preprocessor, postprocessor):
        part.save_pretrained(pretrained)

    env = dict(
        os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"),
        MENAGERIE_ROOT=os.environ.get("MENAGERIE_ROOT", str(REPO_ROOT.parent / "shared" / "menagerie")),
    )  # fmt: skip
    lerobot_eval = Path(sys.executable).with_name("lerobot-eval")
    log = _run(
        [str(lerobot_eval), f"--policy.path={pretrained}", "--policy.device=cpu", "--env.type=so101",
         "--env.task=Lift-v0", "--env.environment_state=tactile", "--env.cameras=[camera1,camera2]",
         f"--env.image_size={IMG}", "--env.episode_length=10", "--eval.n_episodes=1", "--eval.batch_size=1",
         f"--rename_map={{\"observation.environment_state\": \"{TACTILE_KEY}\"}}", f"--output_dir={tmp_path / 'eval'}"],
        tmp_path, env, timeout=300,
    )  # fmt: skip
    assert "'pc_success'" in log and "'n_episodes': 1" in log, log[-3000:]
    assert list((tmp_path / "eval" / "videos").rglob("*.mp4"))
