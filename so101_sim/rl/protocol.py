"""What a policy must provide to be fine-tuned by the ReinFlow core (:mod:`so101_sim.rl.chain`, :mod:`.ppo`).

The core knows nothing about any policy. An adapter wraps one flow-matching policy (``flow_mlp``, SmolVLA,
later Pi0) and exposes the few operations below. Everything is batch-first; ``B`` is the number of envs.

Action tensors the core sees are the policy's OWN normalised action chunk ``x`` of shape ``(B, H, D)``:
``H = chunk_size`` (e.g. 20 for ``flow_mlp``, 50 for SmolVLA), ``D`` the policy's action width INCLUDING padding
(SmolVLA pads 6 joints to 32). Only ``x[:, :n_exec, :real_dims]`` ever reaches the environment; the chain core
injects noise and computes log-probabilities on exactly those entries (see :func:`so101_sim.rl.chain.exec_mask`).

Contract, per method (the tests in ``tests/test_rl_chain.py`` check the core against a tiny adapter):

``spec`` (:class:`ChainSpec`)
    ``horizon`` H, ``action_dim`` D, ``n_exec`` (chunk steps sent to the env per decision, <= H),
    ``real_dims`` (the first ``real_dims`` of D are real joints; the rest is padding), ``time_direction``:
    ``"forward"`` when the sampler integrates t from 0 (noise) to 1 (action), ``"reverse"`` when it integrates
    from 1 (noise) to 0 (action) like SmolVLA/Pi0. The core builds the time grid from this; an adapter never
    builds its own (:func:`so101_sim.rl.chain.time_grid`). ``x0_std``: the std of the chain's start (1 for a
    stock flow policy; 0 when the policy's own sampler starts at x_0 = 0, as ``flow_mlp`` with
    ``deterministic_start``), so that RL explores around exactly the sampler that is evaluated.

``encode(obs, tasks) -> ctx``
    Called ONCE per environment observation, under ``torch.no_grad()``. ``obs`` is the raw batched env
    observation (numpy arrays as the vector env returns them: ``agent_pos`` (B, 6), ``environment_state``,
    ``pixels`` {camera: (B, H, W, 3) uint8}); ``tasks`` the instruction per env. The adapter applies its own
    preprocessing (lerobot ``preprocess_observation`` + its normalising pipeline). It returns a *context*: a
    tensor, or a dict/tuple of tensors, every leaf with batch dimension first, holding NO autograd history (the
    encoder is frozen during RL: for SmolVLA the VLM prefix KV cache, for ``flow_mlp`` the normalised state and
    frozen image features). The PPO buffer stores it and slices it per minibatch (:func:`tree_index`), so it is
    reused across the K denoising steps and all PPO epochs; scoring must never modify it.

``velocity(ctx, x, t) -> (v, features)``
    ``x`` (B, H, D) the current chain sample, ``t`` (B,) the time from :func:`time_grid` (in the adapter's own
    convention). Returns the velocity ``v`` (B, H, D) such that the Euler step is ``x + v * dt`` with the
    grid's signed ``dt``, and ``features``: (B, F) or (B, H, F) tensors the noise head reads (e.g. the state
    embedding, or SmolVLA's expert output tokens). Must be deterministic (eval mode: no dropout) and
    differentiable w.r.t. :meth:`trainable_parameters`.

``trainable_parameters() -> list[torch.nn.Parameter]``
    The parameters RL updates, in a fixed order (the optimizer state of ``--resume`` relies on it). Frozen
    parts (VLM, state projection, image encoder) are not in it and get no gradient.

``set_eval()``
    Put every submodule in eval mode (dropout off). The trainer calls it once; sampling, re-scoring and the
    gradient step all run in eval mode so that the PPO ratio is exactly 1 before the first update.

``to_env_actions(x) -> numpy (B, n_exec, A)``
    Un-normalise the executed part of the chunk to env action units (lerobot units: degrees, gripper 0-100),
    through the policy's own postprocessor. ``A`` is the env's action width (6).

``export(path)``
    Save an ordinary checkpoint of the policy's own type (``config.json``, ``model.safetensors``, processor
    JSONs) that stock ``lerobot-eval --policy.path=path`` loads. The noise head is owned by the chain core and
    is never part of it.

``device`` (torch.device)
    Where the contexts and chain tensors live.

``feature_dim`` (int)
    The last dimension F of the ``features`` that ``velocity`` returns (the noise head's input width).

Construction: ``AdapterClass.from_pretrained(path, device=..., n_exec=..., num_steps=K)`` (what
:func:`so101_sim.rl.adapters.load_adapter` calls, by the checkpoint's policy type). ``n_exec`` and ``num_steps``
are written into the exported config, so that ``lerobot-eval`` executes and integrates exactly what RL trained.
``--resume`` rebuilds the adapter from the last exported checkpoint, so an adapter needs no state of its own
beyond what ``export`` writes.

Scoring (:meth:`so101_sim.rl.chain.ReinFlowChain.score`) calls ``velocity`` on the stored chain's sampled entries
and RECOMPUTES the deterministic ones (padding, unexecuted chunk steps, noiseless steps) from the current
parameters, with autograd on; an adapter whose velocity lets those entries influence the executed ones (an MLP
over the whole chunk) therefore gets exact gradients too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

TIME_DIRECTIONS = ("forward", "reverse")


@dataclass(frozen=True)
class ChainSpec:
    """Shape of one decision's action chunk and how the sampler runs (see module docstring)."""

    horizon: int
    action_dim: int
    n_exec: int
    real_dims: int
    time_direction: str = "forward"
    x0_std: float = 1.0  # std of the chain's start x_0 ~ N(0, x0_std^2 I); 0 = the policy starts its ODE at 0

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.action_dim < 1:
            raise ValueError(f"ChainSpec: horizon and action_dim must be >= 1, got {self.horizon}, {self.action_dim}")
        if not 1 <= self.n_exec <= self.horizon:
            raise ValueError(f"ChainSpec: n_exec must be in [1, horizon={self.horizon}], got {self.n_exec}")
        if not 1 <= self.real_dims <= self.action_dim:
            raise ValueError(f"ChainSpec: real_dims must be in [1, action_dim={self.action_dim}], got {self.real_dims}")
        if self.x0_std < 0:
            raise ValueError(f"ChainSpec: x0_std must be >= 0, got {self.x0_std}")
        if self.time_direction not in TIME_DIRECTIONS:
            raise ValueError(f"ChainSpec: time_direction must be one of {TIME_DIRECTIONS}, got {self.time_direction!r}")


Context = Any  # a tensor or a (nested) dict/tuple/list of tensors, batch dimension first


@runtime_checkable
class FlowPolicyAdapter(Protocol):
    """The operations the ReinFlow core needs from a flow-matching policy (see the module docstring)."""

    spec: ChainSpec
    feature_dim: int

    @property
    def device(self) -> torch.device: ...

    def encode(self, obs: dict[str, Any], tasks: list[str]) -> Context: ...

    def velocity(self, ctx: Context, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def trainable_parameters(self) -> list[torch.nn.Parameter]: ...

    def set_eval(self) -> None: ...

    def to_env_actions(self, x: torch.Tensor) -> np.ndarray: ...

    def export(self, path: str) -> None: ...


def tree_map(fn, tree: Context) -> Context:
    """Apply ``fn`` to every tensor leaf of a context (dicts, tuples, lists are rebuilt; None kept)."""
    if isinstance(tree, torch.Tensor):
        return fn(tree)
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(fn, v) for v in tree)
    if tree is None:
        return None
    raise TypeError(f"context leaves must be tensors (or dict/tuple/list of them), got {type(tree).__name__}")


def tree_index(tree: Context, index: torch.Tensor | slice) -> Context:
    """The rows ``index`` of every leaf (the PPO minibatch of a stored context)."""
    return tree_map(lambda x: x[index], tree)


def tree_cat(trees: list[Context]) -> Context:
    """Concatenate contexts along the batch dimension (rollout steps -> one flat buffer)."""
    first = trees[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(trees, dim=0)
    if isinstance(first, dict):
        return {k: tree_cat([t[k] for t in trees]) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(tree_cat([t[i] for t in trees]) for i in range(len(first)))
    if first is None:
        return None
    raise TypeError(f"context leaves must be tensors, got {type(first).__name__}")


def check_context(ctx: Context, batch: int) -> None:
    """Raise if a context leaf has the wrong batch size or carries autograd history (it must be frozen)."""

    def check(x: torch.Tensor) -> torch.Tensor:
        if x.shape[:1] != (batch,):
            raise ValueError(f"adapter.encode returned a context leaf of shape {tuple(x.shape)}; expected batch {batch} first")
        if x.requires_grad:
            raise ValueError("adapter.encode returned a context that requires grad: the encoder must be frozen (no_grad)")
        return x

    tree_map(check, ctx)
