"""ReinFlow adapter for the ``flow_mlp`` policy type (:mod:`so101_sim.lerobot.policy.modeling_flow_mlp`).

Context = the policy's condition inputs (normalised state/env-state and frozen CNN image features), computed once
per observation; the observation MLP and the velocity MLP are trainable, and the noise head reads the observation
embedding. Time runs forward (0 = noise, 1 = action), as in the policy's own sampler.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from so101_sim.rl.protocol import ChainSpec


class FlowMLPAdapter:
    def __init__(
        self, policy, preprocessor, postprocessor, n_exec: int | None = None, num_steps: int | None = None
    ) -> None:
        self.policy = policy
        self.preprocessor = preprocessor
        self.postprocessor = postprocessor
        cfg = policy.config
        if n_exec is not None:
            if not 1 <= int(n_exec) <= cfg.chunk_size:
                raise ValueError(f"n_exec must be in [1, chunk_size={cfg.chunk_size}], got {n_exec}")
            cfg.n_action_steps = int(n_exec)  # the export executes what RL executed
        if num_steps is not None:
            if int(num_steps) < 1:
                raise ValueError(f"num_steps (K) must be >= 1, got {num_steps}")
            cfg.num_inference_steps = int(num_steps)  # the export integrates with the K that RL trained
        self.spec = ChainSpec(
            horizon=cfg.chunk_size,
            action_dim=policy.action_dim,
            n_exec=cfg.n_action_steps,
            real_dims=policy.action_dim,
            time_direction="forward",
            x0_std=0.0 if cfg.deterministic_start else 1.0,
        )
        self.feature_dim = cfg.obs_embed_dim
        for p in policy.image_encoders.parameters():  # frozen during RL: features are cached per observation
            p.requires_grad_(False)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str = "cpu", n_exec: int | None = None, num_steps: int | None = None
    ) -> FlowMLPAdapter:
        from lerobot.policies.factory import make_pre_post_processors

        import so101_sim.lerobot  # noqa: F401 - registers flow_mlp
        from so101_sim.lerobot.policy.modeling_flow_mlp import FlowMLPPolicy

        policy = FlowMLPPolicy.from_pretrained(str(path))
        policy.config.device = device
        policy.to(device).float()
        overrides = {"device_processor": {"device": device}}
        pre, post = make_pre_post_processors(
            policy.config, pretrained_path=str(path), preprocessor_overrides=overrides
        )
        return cls(policy, pre, post, n_exec=n_exec, num_steps=num_steps)

    @property
    def device(self) -> torch.device:
        return next(self.policy.parameters()).device

    def set_eval(self) -> None:
        self.policy.eval()

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [*self.policy.obs_encoder.parameters(), *self.policy.velocity_net.parameters()]

    @torch.no_grad()
    def encode(self, obs: dict[str, Any], tasks: list[str]) -> Tensor:
        from lerobot.envs.utils import preprocess_observation

        batch = preprocess_observation(obs)
        batch["task"] = list(tasks)
        batch = self.preprocessor(batch)
        return self.policy.condition_inputs(batch).detach()

    def velocity(self, ctx: Tensor, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        emb = self.policy.obs_encoder(ctx)
        return self.policy.velocity(emb, x, t), emb

    @torch.no_grad()
    def to_env_actions(self, x: Tensor) -> np.ndarray:
        b, n = x.shape[0], self.spec.n_exec
        flat = x[:, :n].reshape(b * n, -1)
        out = self.postprocessor(flat)
        return out.reshape(b, n, -1).cpu().numpy().astype(np.float32)

    def export(self, path: str | Path) -> Path:
        """An ordinary flow_mlp checkpoint at ``path`` (written beside it, then moved into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg = self.policy.config
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            device = cfg.device
            cfg.device = "cpu" if device is None else device
            self.policy.save_pretrained(tmp)
            self.preprocessor.save_pretrained(tmp)
            self.postprocessor.save_pretrained(tmp)
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path
