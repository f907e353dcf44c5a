"""TactileEmbedding: fingertip force grids -> prefix tokens for SmolVLA's VLM.

Input: a normalised force grid of shape (B, N, R, C, 3): N fingertips, an R x C taxel grid each, a 3-d force
per taxel. Two branches, each optional:

- resultant force: sum over the R x C taxels -> (B, N, 3) (divided by R*C, a fixed scale that keeps the MLP
  input O(1)), flattened, MLP -> ``resultant_tokens`` tokens;
- spatial: each fingertip grid, channels first, zero-padded (centred) to 16 x 16, a convolutional
  auto-encoder's encoder -> (B, N, latent), flattened, MLP -> ``spatial_tokens`` tokens. With
  ``with_decoder=True`` the decoder reconstructs the grid and ``forward`` returns a per-sample reconstruction
  error over the real (unpadded) taxels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .configuration_smolvla_tactile import MAX_TACTILE_GRID, TactileTokenization


def _mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, out_dim))


class TactileGridEncoder(nn.Module):
    """(M, 3, 16, 16) -> (M, latent). Three stride-2 convolutions: 16 -> 8 -> 4 -> 2."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.SiLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(64, 128, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(128, 128, 4, stride=2, padding=1), nn.SiLU(),
            nn.Flatten(),
            nn.Linear(128 * 2 * 2, latent_dim),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class TactileGridDecoder(nn.Module):
    """(M, latent) -> (M, 3, 16, 16), the mirror of TactileGridEncoder."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.fc = nn.Linear(latent_dim, 128 * 2 * 2)
        self.net = nn.Sequential(
            nn.SiLU(),
            nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1), nn.SiLU(),
            nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.SiLU(),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(32, 3, 3, padding=1),
        )  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.fc(z).view(-1, 128, 2, 2))


@dataclass
class TactileEmbeddingOutput:
    tokens: Tensor  # (B, K, out_dim)
    recon_loss: Tensor | None  # (B,) per-sample mean squared reconstruction error, or None


class TactileEmbedding(nn.Module):
    def __init__(
        self,
        grid_shape: tuple[int, int, int, int],
        out_dim: int,
        tokenization: TactileTokenization,
        with_decoder: bool = False,
    ):
        super().__init__()
        n, rows, cols, channels = grid_shape
        if channels != 3 or rows > MAX_TACTILE_GRID or cols > MAX_TACTILE_GRID:
            raise ValueError(f"tactile grid shape {grid_shape} is not (N, <=16, <=16, 3)")
        self.grid_shape = tuple(grid_shape)
        self.out_dim = out_dim
        self.resultant_tokens = tokenization.resultant_tokens
        self.spatial_tokens = tokenization.spatial_tokens
        hidden = tokenization.mlp_hidden_dim
        # Centred zero padding to 16 x 16 (F.pad order: left, right, top, bottom).
        top, left = (MAX_TACTILE_GRID - rows) // 2, (MAX_TACTILE_GRID - cols) // 2
        self._pad = (left, MAX_TACTILE_GRID - cols - left, top, MAX_TACTILE_GRID - rows - top)

        if self.resultant_tokens > 0:
            self.resultant_mlp = _mlp(n * 3, hidden, self.resultant_tokens * out_dim)
        if self.spatial_tokens > 0:
            latent = tokenization.spatial_latent_dim
            self.encoder = TactileGridEncoder(latent)
            self.spatial_mlp = _mlp(n * latent, hidden, self.spatial_tokens * out_dim)
            self.decoder = TactileGridDecoder(latent) if with_decoder else None
        elif with_decoder:
            raise ValueError("the reconstruction decoder needs the spatial branch (spatial_tokens >= 1)")

    @property
    def num_tokens(self) -> int:
        return self.resultant_tokens + self.spatial_tokens

    def forward(self, grid: Tensor, compute_recon: bool = False) -> TactileEmbeddingOutput:
        if grid.ndim != 5 or tuple(grid.shape[1:]) != self.grid_shape:
            raise ValueError(f"tactile grid must be (B, {', '.join(map(str, self.grid_shape))}), got {tuple(grid.shape)}")
        bsize, n, rows, cols, _ = grid.shape
        grid = grid.float()
        tokens: list[Tensor] = []
        recon_loss = None
        if self.resultant_tokens > 0:
            resultant = grid.sum(dim=(2, 3)) / (rows * cols)  # (B, N, 3)
            tokens.append(self.resultant_mlp(resultant.flatten(1)).view(bsize, self.resultant_tokens, self.out_dim))
        if self.spatial_tokens > 0:
            images = grid.permute(0, 1, 4, 2, 3).reshape(bsize * n, 3, rows, cols)
            padded = F.pad(images, self._pad)
            latent = self.encoder(padded)  # (B*N, latent)
            spatial = self.spatial_mlp(latent.view(bsize, -1))
            tokens.append(spatial.view(bsize, self.spatial_tokens, self.out_dim))
            if compute_recon and self.decoder is not None:
                left, _, top, _ = self._pad
                recon = self.decoder(latent)[:, :, top : top + rows, left : left + cols]
                err = (recon - images) ** 2
                recon_loss = err.view(bsize, -1).mean(dim=1)
        return TactileEmbeddingOutput(tokens=torch.cat(tokens, dim=1), recon_loss=recon_loss)
