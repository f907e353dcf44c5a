"""Random-weight LeRobot checkpoints (``flow_mlp`` or ``smolvla``) for smoke runs and tests, offline.

``so101-sim rlinf init-checkpoint --policy smolvla --size tiny DIR`` writes an ordinary ``pretrained_model``
directory (config, weights, processors with SO-101 normalisation statistics) whose SmolVLM backbone is built from
a local config (:mod:`lerobot_policy_smolvla_tactile.local_smolvlm`; ``tiny`` or the real ``500m`` dimensions,
random weights). Nothing is downloaded. It measures the plumbing and the speed, not a policy's skill.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from so101_sim.tasks import ENV_STATE_DIM

POLICIES = ("flow_mlp", "smolvla")
# Rough SO-101 joint statistics in LeRobot units (degrees, gripper 0..100): what a random checkpoint normalises by.
JOINT_MEAN = np.array([0.0, -30.0, 30.0, 60.0, 0.0, 20.0], np.float32)
JOINT_STD = np.array([30.0, 30.0, 30.0, 30.0, 30.0, 20.0], np.float32)


def _stats(dim: int, mean: np.ndarray, std: np.ndarray) -> dict[str, torch.Tensor]:
    return {
        "mean": torch.as_tensor(mean[:dim]), "std": torch.as_tensor(std[:dim]),
        "min": torch.as_tensor(mean[:dim] - 3 * std[:dim]), "max": torch.as_tensor(mean[:dim] + 3 * std[:dim]),
    }  # fmt: skip


def write_random_checkpoint(
    path: str | os.PathLike,
    policy: str = "flow_mlp",
    *,
    size: str = "tiny",
    cameras: tuple[str, ...] = ("camera1", "camera2"),
    image_size: int = 128,
    chunk_size: int = 20,
    n_action_steps: int = 10,
    seed: int = 0,
) -> Path:
    """Write a random ``policy`` checkpoint to ``path`` (must not exist; assembled beside it, then renamed)."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.factory import make_pre_post_processors

    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    path = Path(path).resolve()
    if path.exists():
        raise FileExistsError(f"{path} already exists; choose a new directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        state = PolicyFeature(type=FeatureType.STATE, shape=(6,))
        action = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(6,))}
        stats = {"observation.state": _stats(6, JOINT_MEAN, JOINT_STD), "action": _stats(6, JOINT_MEAN, JOINT_STD)}
        if policy == "flow_mlp":
            import so101_sim.lerobot  # noqa: F401 - registers flow_mlp
            from so101_sim.lerobot.policy.configuration_flow_mlp import FlowMLPConfig
            from so101_sim.lerobot.policy.modeling_flow_mlp import FlowMLPPolicy

            env_mean = np.zeros(ENV_STATE_DIM, np.float32)
            env_std = np.full(ENV_STATE_DIM, 0.1, np.float32)
            stats["observation.environment_state"] = _stats(ENV_STATE_DIM, env_mean, env_std)
            inputs = {
                "observation.state": state,
                "observation.environment_state": PolicyFeature(type=FeatureType.ENV, shape=(ENV_STATE_DIM,)),
            }
            cfg = FlowMLPConfig(input_features=inputs, output_features=action, chunk_size=chunk_size,
                                n_action_steps=n_action_steps, device="cpu")  # fmt: skip
            model = FlowMLPPolicy(cfg)
        else:
            from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
            from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy
            from lerobot_policy_smolvla_tactile.local_smolvlm import image_size_of, write_local_smolvlm

            vlm = write_local_smolvlm(tmp / "vlm", size=size)
            img = PolicyFeature(type=FeatureType.VISUAL, shape=(3, image_size, image_size))
            inputs = {"observation.state": state, **{f"observation.images.{c}": img for c in cameras}}
            side = image_size_of(size)
            cfg = SmolVLAConfig(
                input_features=inputs, output_features=action, chunk_size=chunk_size, n_action_steps=n_action_steps,
                vlm_model_name=str(vlm), load_vlm_weights=False, resize_imgs_with_padding=(side, side), device="cpu",
            )  # fmt: skip
            model = SmolVLAPolicy(cfg)
        pre, post = make_pre_post_processors(cfg, dataset_stats=stats)
        model.save_pretrained(tmp)
        pre.save_pretrained(tmp)
        post.save_pretrained(tmp)
        for f in tmp.glob("*.json"):  # the VLM directory moves with the checkpoint: point at its final place
            f.write_text(f.read_text().replace(str(tmp), str(path.resolve())))
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
