"""Stock ``lerobot-eval --env.type=so101 --env.backend=isaac`` on the Isaac stand-in (when the env type has a
``backend`` field). The stand-in is injected with ``SO101_ISAACLAB_STANDIN=isaac_standin`` in a subprocess."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SO101_URDF = Path(os.environ.get("SO101_URDF", str(Path(__file__).resolve().parents[2] / "shared" / "assets") + "/so101/so101_new_calib.urdf"))


def test_lerobot_eval_cli_with_isaac_backend(tmp_path):
    from so101_sim.lerobot.env_config import SO101EnvConfig

    assert "backend" in {f.name for f in dataclasses.fields(SO101EnvConfig)}
    assert SO101_URDF.is_file(), f"SO-101 URDF not found at {SO101_URDF} (set SO101_URDF)"
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    size = 32
    cfg = ACTConfig(
        input_features={
            "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
            "observation.environment_state": PolicyFeature(FeatureType.ENV, (13,)),
            "observation.images.camera1": PolicyFeature(FeatureType.VISUAL, (3, size, size)),
            "observation.images.camera2": PolicyFeature(FeatureType.VISUAL, (3, size, size)),
        },
        output_features={"action": PolicyFeature(FeatureType.ACTION, (6,))},
        pretrained_backbone_weights=None, dim_model=32, n_heads=2, dim_feedforward=64, n_encoder_layers=1,
        n_decoder_layers=1, chunk_size=4, n_action_steps=4, use_vae=False, device="cpu",
    )
    policy = ACTPolicy(cfg)
    stats = {
        "action": {"mean": torch.zeros(6), "std": torch.full((6,), 10.0)},
        "observation.state": {"mean": torch.zeros(6), "std": torch.full((6,), 50.0)},
        "observation.environment_state": {"mean": torch.zeros(13), "std": torch.ones(13)},
        "observation.images.camera1": {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.25)},
        "observation.images.camera2": {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.25)},
    }
    pre, post = make_pre_post_processors(cfg, dataset_stats=stats)
    ckpt = tmp_path / "policy"
    policy.save_pretrained(ckpt)
    pre.save_pretrained(ckpt)
    post.save_pretrained(ckpt)

    out_dir = tmp_path / "eval"
    env = dict(os.environ)
    env.update({
        "SO101_ISAACLAB_STANDIN": "isaac_standin", "SO101_URDF": str(SO101_URDF), "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT), env.get("PYTHONPATH", "")]),
    })
    cmd = [
        sys.executable, "-m", "lerobot.scripts.lerobot_eval", f"--policy.path={ckpt}", "--policy.device=cpu",
        "--env.type=so101", "--env.backend=isaac", "--env.task=Isaac-SO-ARM101-Lift-Cube-v0",
        "--env.cameras=[camera1,camera2]", f"--env.image_size={size}", "--env.episode_length=5",
        "--eval.n_episodes=2", "--eval.batch_size=2", f"--output_dir={out_dir}",
        "--env.discover_packages_path=so101_sim.lerobot", "--trust_remote_code=true", "--env.device=cpu",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((out_dir / "eval_info.json").read_text())
    assert "overall" in info and info["overall"]["n_episodes"] == 2
