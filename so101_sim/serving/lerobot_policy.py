"""Any LeRobot policy as a :class:`~so101_sim.serving.server.ChunkPolicy`.

Loading follows ``lerobot-eval``: the policy class is found by its registered type (``get_policy_class``), a
pretrained directory/Hub id loads with ``PreTrainedPolicy.from_pretrained`` and its saved pre/post processors
with ``make_pre_post_processors(cfg, pretrained_path=...)`` (the ``device_processor`` step is re-pointed at the
serving device). ``--policy.type`` builds a fresh policy from its config (scripted or test policies); its
inputs come from the config when it declares them, otherwise from the ``so101`` env type (as ``lerobot-eval``
builds a policy for an env).

Inference: the frame is built by :func:`so101_sim.adapters.lerobot_policy_frame` (the same frame
``lerobot-eval`` gives a policy), then pre-processor -> ``predict_action_chunk`` -> post-processor. Policies
with ``n_obs_steps > 1`` (diffusion) or without ``predict_action_chunk`` go through ``select_action`` instead,
one action per call, keeping their observation history in the server: such a policy is ``stateful`` and the
server lets one client at a time use it (see :mod:`so101_sim.serving.server`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from so101_sim.adapters import lerobot_policy_frame
from so101_sim.plugin_errors import loud_import_failure
from so101_sim.serving.mapping import ProtocolMapping
from so101_sim.serving.server import PolicyFeatures


def _import_project_policies() -> None:
    """Register this project's LeRobot policy types (``so101_scripted``, ``flow_mlp``, and the installed plugins'
    such as ``smolvla_tactile``). A failure is logged at ERROR with its cause and raised, as the plugins do: a
    broken install must not look like "unknown policy type"."""
    with loud_import_failure(
        __name__,
        "so101_sim.lerobot",
        "--policy.type=so101_scripted/flow_mlp are NOT registered for serving",
        "Reinstall so101-sim with its LeRobot extra (pip install 'so101-sim[lerobot]')",
    ):
        import so101_sim.lerobot  # noqa: F401
    with loud_import_failure(
        __name__,
        "the third-party LeRobot plugins",
        "plugin policy types (lerobot_policy_*) are NOT registered for serving",
        "Check the LeRobot install",
    ):
        from lerobot.utils.import_utils import register_third_party_plugins

        register_third_party_plugins()


class LeRobotChunkPolicy:
    def __init__(self, policy: Any, preprocessor: Any, postprocessor: Any) -> None:
        self.policy = policy
        self.preprocessor = preprocessor
        self.postprocessor = postprocessor
        cfg = policy.config
        has_chunk = type(policy).predict_action_chunk is not _base_predict_action_chunk()
        self.uses_chunks = has_chunk and int(getattr(cfg, "n_obs_steps", 1) or 1) == 1
        self.policy.eval()

    # --- construction -----------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu") -> LeRobotChunkPolicy:
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors

        _import_project_policies()
        path = str(path)
        if os.path.exists(path):
            if not os.path.isfile(os.path.join(path, "config.json")):
                raise FileNotFoundError(f"{path} is not a LeRobot pretrained policy directory (no config.json)")
            if not os.path.isfile(os.path.join(path, "policy_preprocessor.json")):
                raise FileNotFoundError(
                    f"{path} has no policy_preprocessor.json: save the policy's processors next to it "
                    "(preprocessor.save_pretrained(dir), as lerobot-train does) so inputs are normalised as in training"
                )
        cfg = PreTrainedConfig.from_pretrained(path)
        cfg.device = device
        cfg.pretrained_path = path
        policy = get_policy_class(cfg.type).from_pretrained(path, config=cfg)
        policy.to(device)
        pre, post = make_pre_post_processors(
            cfg, pretrained_path=path, preprocessor_overrides={"device_processor": {"device": device}}
        )
        return cls(policy, pre, post)

    @classmethod
    def from_type(
        cls,
        policy_type: str,
        device: str = "cpu",
        overrides: dict[str, Any] | None = None,
        mapping: ProtocolMapping | None = None,
        image_size: tuple[int, int] = (256, 256),
        cameras: list[str] | None = None,
    ) -> LeRobotChunkPolicy:
        """A fresh (untrained or scripted) policy of a registered type.

        A config that declares no inputs gets them as ``lerobot-eval`` gives them: ``make_policy(cfg,
        env_cfg=...)`` with this project's ``so101`` env type (cameras at ``image_size``, ``observation.state``,
        ``observation.environment_state``, a 6-dim joint action). ``cameras`` (env names) default to the
        mapping's ``video`` values, else the env type's default cameras; ``[]`` means no cameras.
        """
        from lerobot.policies.factory import make_policy, make_policy_config, make_pre_post_processors

        _import_project_policies()
        cfg = make_policy_config(policy_type, device=device, **(overrides or {}))
        m = mapping or ProtocolMapping()
        if cameras is None and m.video is not None:
            cameras = [ProtocolMapping.env_camera(c) for c in m.video.values()]
        if cfg.input_features:
            from lerobot.policies.factory import get_policy_class

            policy = get_policy_class(cfg.type)(cfg)
            policy.to(device)
        else:
            policy = make_policy(cfg, env_cfg=_so101_env_config(cameras, image_size))
        pre, post = make_pre_post_processors(policy.config, dataset_stats=None)
        return cls(policy, pre, post)

    @property
    def stateful(self) -> bool:
        """True when inference keeps an observation history between calls (``select_action``)."""
        return not self.uses_chunks

    # --- ChunkPolicy ------------------------------------------------------------------------------------------
    def features(self) -> PolicyFeatures:
        cfg = self.policy.config
        cams = {k: (int(f.shape[-2]), int(f.shape[-1])) for k, f in cfg.image_features.items()}
        state = cfg.robot_state_feature
        action = cfg.action_feature
        if action is None:
            raise ValueError(f"policy {cfg.type!r} declares no action output feature")
        chunk = getattr(cfg, "n_action_steps", None) if self.uses_chunks else 1
        env = cfg.env_state_feature
        return PolicyFeatures(
            cams,
            int(state.shape[0]) if state else None,
            int(action.shape[0]),
            chunk,
            tuple(int(d) for d in env.shape) if env else None,
        )

    def reset(self) -> None:
        self.policy.reset()

    def predict_chunk(
        self,
        images: dict[str, np.ndarray],
        state: np.ndarray | None,
        task: list[str],
        env_state: np.ndarray | None = None,
    ) -> np.ndarray:
        import torch

        batch = self.preprocessor(lerobot_policy_frame(images, state, task, env_state=env_state))
        with torch.inference_mode():
            if self.uses_chunks:
                actions = self.policy.predict_action_chunk(batch)
                n = getattr(self.policy.config, "n_action_steps", None)
                if n:
                    actions = actions[:, :n]
            else:
                actions = self.policy.select_action(batch)[:, None]
            actions = self.postprocessor(actions)
        return actions.detach().to("cpu", torch.float32).numpy()


def _so101_env_config(cameras: list[str] | None, image_size: tuple[int, int]) -> Any:
    """This project's ``so101`` env type config, whose features a fresh policy is built from."""
    try:
        from so101_sim.lerobot.env_config import SO101EnvConfig
    except ImportError as e:
        raise ImportError(
            f"a fresh --policy.type policy takes its inputs from the so101 env type, which failed to import: {e}"
        ) from e
    kwargs: dict[str, Any] = {}
    if cameras is not None:
        kwargs["cameras"] = list(cameras)
    env_cfg = SO101EnvConfig(**kwargs)
    env_cfg.camera_sizes = {c: list(image_size) for c in env_cfg.cameras}
    env_cfg.__post_init__()  # recompute the features with the sizes
    return env_cfg


def _base_predict_action_chunk():
    from lerobot.policies.pretrained import PreTrainedPolicy

    return PreTrainedPolicy.predict_action_chunk


def load_policy(
    path: str | None = None,
    policy_type: str | None = None,
    device: str = "cpu",
    overrides: dict[str, Any] | None = None,
    mapping: ProtocolMapping | None = None,
    image_size: tuple[int, int] = (256, 256),
    cameras: list[str] | None = None,
) -> LeRobotChunkPolicy:
    """``--policy.path`` or ``--policy.type`` (exactly one) -> a served policy."""
    if bool(path) == bool(policy_type):
        raise ValueError("give exactly one of --policy.path and --policy.type")
    if path:
        if overrides:
            raise ValueError("--policy.override only applies to --policy.type (a pretrained config is used as saved)")
        return LeRobotChunkPolicy.from_pretrained(path, device)
    return LeRobotChunkPolicy.from_type(policy_type, device, overrides, mapping, image_size, cameras)
