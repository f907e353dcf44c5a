"""The ``flow_mlp`` policy: a small flow-matching policy over action chunks (see the config's docstring).

Conventions (the RL adapter :mod:`so101_sim.rl.adapters.flow_mlp` relies on them): time runs FORWARD, the sample
starts at t=0 as noise and reaches the action at t=1; the Euler step is ``x + v * (1/K)``; the flow-matching
target is ``v = a - x_0`` along ``x_t = (1 - t) x_0 + t a``. Everything is in the normalised action space of
the processor (mean/std).
"""

from __future__ import annotations

import math
from collections import deque

import torch
import torch.nn.functional as F
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.utils.constants import ACTION
from torch import Tensor, nn

from so101_sim.lerobot.policy.configuration_flow_mlp import FlowMLPConfig


def sinusoidal_embedding(t: Tensor, dim: int) -> Tensor:
    """(B,) times in [0, 1] -> (B, dim) sin/cos features."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device, dtype=t.dtype) / max(1, half - 1))
    ang = (t[:, None] * 100.0) * freqs[None]
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


class SmallCNN(nn.Module):
    """Per-camera image encoder: area-downsample, 3 strided convs, global average pool, linear."""

    def __init__(self, resize: int, out_dim: int) -> None:
        super().__init__()
        self.resize = resize
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 5, stride=2, padding=2), nn.Mish(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.Mish(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.Mish(),
        )  # fmt: skip
        self.out = nn.Linear(64, out_dim)

    def forward(self, img: Tensor) -> Tensor:
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError(f"flow_mlp image input must be (B, 3, H, W), got {tuple(img.shape)}")
        if img.shape[-1] != self.resize or img.shape[-2] != self.resize:
            img = F.interpolate(img, size=(self.resize, self.resize), mode="area")
        h = self.net(img * 2.0 - 1.0)
        return self.out(h.mean(dim=(2, 3)))


class FlowMLPPolicy(PreTrainedPolicy):
    config_class = FlowMLPConfig
    name = "flow_mlp"

    def __init__(self, config: FlowMLPConfig, **kwargs) -> None:
        super().__init__(config)
        config.validate_features()
        self.config = config
        self.action_dim = int(config.action_feature.shape[0])
        vec_dim = sum(int(math.prod(config.input_features[k].shape)) for k in config.vector_keys)
        self.cameras = config.camera_keys if config.use_images else []
        self.image_encoders = nn.ModuleDict(
            {k.replace(".", "_"): SmallCNN(config.image_resize, config.image_embed_dim) for k in self.cameras}
        )
        cond_in = vec_dim + len(self.cameras) * config.image_embed_dim
        d = config.obs_embed_dim
        self.obs_encoder = nn.Sequential(nn.Linear(cond_in, d), nn.Mish(), nn.Linear(d, d), nn.Mish())
        flat = config.chunk_size * self.action_dim
        width = config.hidden_dim
        layers: list[nn.Module] = [nn.Linear(d + flat + config.time_embed_dim, width), nn.Mish()]
        for _ in range(config.n_layers - 1):
            layers += [nn.Linear(width, width), nn.Mish()]
        layers.append(nn.Linear(width, flat))
        self.velocity_net = nn.Sequential(*layers)
        self._queue: deque[Tensor] = deque(maxlen=config.n_action_steps)

    # ------------------------------------------------------------------ pieces the RL adapter reuses
    def encode_observation(self, batch: dict[str, Tensor]) -> Tensor:
        """(B, obs_embed_dim) embedding of the (normalised) observation."""
        return self.obs_encoder(self.condition_inputs(batch))

    def condition_inputs(self, batch: dict[str, Tensor]) -> Tensor:
        """(B, C): the normalised state-like inputs and the image features, concatenated (fixed order)."""
        parts = []
        for key in self.config.vector_keys:
            if key not in batch:
                raise KeyError(f"flow_mlp needs {key!r} in the batch; got keys {sorted(batch)}")
            x = batch[key]
            parts.append(x.reshape(x.shape[0], -1).float())
        for key in self.cameras:
            if key not in batch:
                raise KeyError(f"flow_mlp (use_images=true) needs {key!r} in the batch; got keys {sorted(batch)}")
            img = batch[key]
            if img.dim() == 5:  # (B, n_obs, C, H, W) from a dataset with observation history
                img = img[:, -1]
            parts.append(self.image_encoders[key.replace(".", "_")](img.float()))
        return torch.cat(parts, dim=-1)

    def velocity(self, obs_emb: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """Velocity (B, chunk, D) at chain state ``x_t`` (B, chunk, D) and time ``t`` (B,) in [0, 1]."""
        temb = sinusoidal_embedding(t.float(), self.config.time_embed_dim)
        h = torch.cat([obs_emb, x_t.flatten(1), temb], dim=-1)
        return self.velocity_net(h).view_as(x_t)

    def sample_chunk(self, obs_emb: Tensor, steps: int | None = None, noise: Tensor | None = None) -> Tensor:
        """Deterministic Euler ODE from ``noise`` (default: N(0, I), or 0 with ``deterministic_start``)."""
        k = int(steps or self.config.num_inference_steps)
        b = obs_emb.shape[0]
        shape = (b, self.config.chunk_size, self.action_dim)
        if noise is None:
            noise = (
                torch.zeros(shape, device=obs_emb.device)
                if self.config.deterministic_start
                else torch.randn(shape, device=obs_emb.device)
            )
        x = noise
        for i in range(k):
            t = torch.full((b,), i / k, device=x.device)
            x = x + self.velocity(obs_emb, x, t) / k
        return x

    # ------------------------------------------------------------------ LeRobot policy API
    def get_optim_params(self) -> dict:
        return self.parameters()

    def reset(self) -> None:
        self._queue.clear()

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        actions = batch[ACTION]
        if actions.dim() != 3 or actions.shape[1] != self.config.chunk_size:
            raise ValueError(
                f"flow_mlp expects 'action' chunks (B, {self.config.chunk_size}, {self.action_dim}), got "
                f"{tuple(actions.shape)}"
            )
        emb = self.encode_observation(batch)
        b = actions.shape[0]
        x0 = torch.randn_like(actions)
        t = torch.rand(b, device=actions.device)
        x_t = (1.0 - t)[:, None, None] * x0 + t[:, None, None] * actions
        err = (self.velocity(emb, x_t, t) - (actions - x0)) ** 2
        pad = batch.get("action_is_pad")
        if pad is not None:
            valid = (~pad.bool()).float()[..., None]
            loss = (err * valid).sum() / (valid.sum() * self.action_dim).clamp_min(1.0)
        else:
            loss = err.mean()
        return loss, {"flow_loss": float(loss.detach())}

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor], **kwargs) -> Tensor:
        return self.sample_chunk(self.encode_observation(batch))

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor], **kwargs) -> Tensor:
        if not self._queue:
            chunk = self.predict_action_chunk(batch)[:, : self.config.n_action_steps]
            self._queue.extend(chunk.transpose(0, 1))
        return self._queue.popleft()
