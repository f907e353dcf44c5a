"""The ``so101_scripted`` policy: one :class:`~so101_sim.mujoco.expert.ScriptedExpert` per env in the batch."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from lerobot.policies.pretrained import PreTrainedPolicy

from so101_sim.lerobot.policy.configuration_so101_scripted import SO101ScriptedConfig
from so101_sim.mujoco.expert import ScriptedExpert
from so101_sim.tasks import TASKS


def task_from_instruction(text: str) -> str:
    """The task whose default instruction is ``text`` (first match). Anything else is an error, not Lift: running
    the wrong script would score 0% with no hint why (e.g. ``--env.instruction="Grab the block"`` on PickPlace)."""
    for name, spec in TASKS.items():
        if text.strip() == spec.instruction:
            return name
    known = "; ".join(f"{name}: {spec.instruction!r}" for name, spec in TASKS.items())
    raise ValueError(
        f"so101_scripted (--policy.task=auto) cannot tell which task the instruction {text!r} asks for; it knows "
        f"only the default instructions ({known}). Name the script: --policy.task=Lift-v0, Reach-v0 or "
        "PickPlace-v0."
    )


class SO101ScriptedPolicy(PreTrainedPolicy):
    config_class = SO101ScriptedConfig
    name = "so101_scripted"

    def __init__(self, config: SO101ScriptedConfig, **kwargs) -> None:
        super().__init__(config)
        self.config = config
        self._experts: list[ScriptedExpert] = []
        self._tasks: list[str] = []
        # A parameter-free policy still needs a device anchor for .to() and for lerobot's device checks.
        self.register_buffer("_anchor", torch.zeros(1), persistent=False)

    def get_optim_params(self) -> dict:
        return {}

    def reset(self) -> None:
        self._experts, self._tasks = [], []

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        raise NotImplementedError("so101_scripted is a scripted controller: it acts, it does not train")

    def _ensure_experts(self, batch_size: int, tasks: list[str]) -> None:
        if len(self._experts) == batch_size and tasks == self._tasks:
            return
        self._tasks = tasks
        self._experts = [
            ScriptedExpert(
                task,
                units=self.config.units,
                cube_pose_noise=tuple(self.config.cube_pose_noise),
                seed=self.config.seed + i,
            )
            for i, task in enumerate(tasks)
        ]

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor], **kwargs) -> Tensor:
        return self.select_action(batch)[:, None]

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor], **kwargs) -> Tensor:
        for key in ("observation.state", "observation.environment_state"):
            if key not in batch:
                raise KeyError(f"so101_scripted needs {key!r} in the observation; got keys {sorted(batch)}")
        state = batch["observation.state"].detach().cpu().double().numpy()
        env_state = batch["observation.environment_state"].detach().cpu().double().numpy()
        b = state.shape[0]
        if self.config.task == "auto":
            texts = batch.get("task")
            if texts is None:
                raise KeyError(
                    "so101_scripted (--policy.task=auto) reads the task from the instruction, but the batch has no "
                    "'task' (the env sent none); name the script: --policy.task=Lift-v0, Reach-v0 or PickPlace-v0"
                )
            if isinstance(texts, str):
                texts = [texts] * b
            tasks = [task_from_instruction(t) for t in texts]
        else:
            tasks = [self.config.task] * b
        self._ensure_experts(b, tasks)
        actions = [expert.act(state[i], env_state[i]) for i, expert in enumerate(self._experts)]
        return torch.from_numpy(np.stack(actions).astype(np.float32)).to(self._anchor.device)
