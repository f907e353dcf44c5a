"""The one place where LeRobot 0.4.4 and LeRobot 0.6.x differ for this project.

Every LeRobot face (env type, EnvHub ``env.py``, robot, policies, record-demos, converter, serving, tests) imports
the few names below instead of testing LeRobot's version itself. What differs, and what this module does:

=============================  =======================================  ==========================================
what                           LeRobot 0.4.4 (Python 3.10+)             LeRobot 0.6.x (Python 3.12+)
=============================  =======================================  ==========================================
building an env type's envs    ``gym.make(cfg.gym_id)`` in lerobot's    ``cfg.create_envs(n_envs, use_async_envs)``:
                               factory (Isaac / async: our local        :func:`create_so101_envs` (all backends,
                               EnvHub shim, ``--trust_remote_code``)    async natively, no shim)
env processors                 none for third-party env types           ``cfg.get_env_processors()``:
                                                                        :func:`env_processors`
extra observation keys         dropped (hence ``environment_state=      ``observation.<key>``; the tactile grid
                               tactile`` + ``--rename_map``)            arrives as :data:`TACTILE_FEATURE`
plugin discovery               ``lerobot_policy_*``/``lerobot_robot_*`` adds ``lerobot_env_*`` (our
                                                                        ``lerobot_env_so101_sim`` distribution)
task text in eval              ``envs.utils.add_envs_task``             inlined in ``rollout``: :func:`add_envs_task`
dataset video codec            ``create(vcodec=...)``                   ``create(rgb_encoder=RGBEncoderConfig(...))``
dataset writer internals       on the dataset                           on ``dataset.writer``
feature helpers                ``lerobot.datasets.utils``               ``lerobot.utils.feature_utils``
in-training sim eval flag      ``lerobot-train --eval_freq=N``          ``lerobot-train --env_eval_freq=N``
=============================  =======================================  ==========================================

Robot / teleoperator base classes and policy registration are the same on both lines.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType
from typing import Any

from packaging.version import Version

LEROBOT_VERSION = Version(importlib.metadata.version("lerobot"))
#: "0.4" or "0.6": the LeRobot line this environment runs.
LEROBOT_LINE = f"{LEROBOT_VERSION.major}.{LEROBOT_VERSION.minor}"
IS_LEROBOT_06 = LEROBOT_VERSION >= Version("0.6.0")
if LEROBOT_VERSION < Version("0.4.4") or LEROBOT_VERSION >= Version("0.7"):
    raise ImportError(
        f"so101_sim supports lerobot 0.4.4 (Python 3.11) and 0.6.x (Python 3.12+); found lerobot {LEROBOT_VERSION}"
    )

#: lerobot >= 0.6 builds an env type's vector envs through ``EnvConfig.create_envs`` (0.4.4 never calls it).
ENV_CONFIG_BUILDS_ENVS = IS_LEROBOT_06
#: lerobot >= 0.6 passes any extra ndarray observation key ``k`` on to policies as ``observation.k``.
EXTRA_OBS_KEYS_PASS_THROUGH = IS_LEROBOT_06
#: ``lerobot-train``'s option that runs the policy in the env every N steps (renamed in 0.6).
TRAIN_ENV_EVAL_FREQ = "env_eval_freq" if IS_LEROBOT_06 else "eval_freq"
#: The policy-side key of the fingertip force grid (datasets, converter, tactile SmolVLA).
TACTILE_FEATURE = "observation.tactile.force_grid"
#: The env's observation key of the grid (``SO101Env(tactile=True)``).
TACTILE_OBS_KEY = "tactile"
# Observation keys stock ``preprocess_observation`` maps itself (everything else passes through on 0.6).
_STOCK_OBS_KEYS = ("pixels", "agent_pos", "environment_state", "robot_state", "policy", "camera_obs")


# ---------------------------------------------------------------------------------------------------------------
# Env type
# ---------------------------------------------------------------------------------------------------------------
def add_tactile_feature(features: dict, features_map: dict, tactile_grid: tuple[int, int]) -> None:
    """Declare the env's ``tactile`` key as :data:`TACTILE_FEATURE` where LeRobot delivers it (0.6 only).

    On 0.4.4 the key never reaches a policy, so declaring it would build policies with an input that stays
    missing; there the grid travels as ``environment_state`` (``--env.environment_state=tactile``).
    """
    if not EXTRA_OBS_KEYS_PASS_THROUGH:
        return
    from lerobot.configs.types import FeatureType, PolicyFeature

    # STATE, as LeRobot types a dataset's ``observation.tactile.force_grid`` (it has no tactile feature type).
    features[TACTILE_OBS_KEY] = PolicyFeature(type=FeatureType.STATE, shape=(2, *tactile_grid, 3))
    features_map[TACTILE_OBS_KEY] = TACTILE_FEATURE


def passthrough_renames(features_map: dict[str, str]) -> dict[str, str]:
    """``observation.<key>`` (what 0.6 makes of an extra env key) -> the policy key the env config declares."""
    renames = {}
    for env_key, policy_key in features_map.items():
        if env_key == "action" or env_key.split("/", 1)[0] in _STOCK_OBS_KEYS:
            continue
        if f"observation.{env_key}" != policy_key:
            renames[f"observation.{env_key}"] = policy_key
    return renames


def env_processors(features_map: dict[str, str]) -> tuple[Any, Any]:
    """``EnvConfig.get_env_processors()`` of our env types (lerobot >= 0.6 only; 0.4.4 has no such hook).

    The pre-processor renames passed-through keys to their declared policy keys (``observation.tactile`` ->
    ``observation.tactile.force_grid``), so a policy trained on our datasets sees the grid with no
    ``--rename_map``. The post-processor is the identity.
    """
    from lerobot.processor import PolicyProcessorPipeline, RenameObservationsProcessorStep

    renames = passthrough_renames(features_map)
    steps = [RenameObservationsProcessorStep(rename_map=renames)] if renames else []
    return PolicyProcessorPipeline(steps=steps), PolicyProcessorPipeline(steps=[])


def create_so101_envs(cfg: Any, n_envs: int, use_async_envs: bool = False) -> dict[str, dict[Any, Any]]:
    """``EnvConfig.create_envs`` of the ``so101`` env type (lerobot >= 0.6): every backend, sync or async.

    Same result shape as on 0.4.4: the MuJoCo backend gives ``{"so101": {0: vec}}`` (what 0.4.4's own factory
    gives this type), the Isaac backend ``{"so101": {task: vec}}`` (what its EnvHub route gives). Async only
    with more than one world, as stock 0.6 does; our async workers start with ``spawn`` (EGL-safe).
    """
    from so101_sim.envhub import make_envs

    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs}")
    envs = make_envs(n_envs=n_envs, use_async_envs=use_async_envs and n_envs > 1, cfg=cfg, suite=cfg.type)
    if getattr(cfg, "backend", "mujoco") == "mujoco":
        (tasks,) = envs.values()
        (vec,) = tasks.values()
        return {cfg.type: {0: vec}}
    return envs


def add_envs_task(env: Any, observation: dict) -> dict:
    """Put each world's instruction under ``observation["task"]``, exactly as ``lerobot-eval`` does.

    0.4.4 has ``lerobot.envs.utils.add_envs_task`` (it reads ``env.envs[0]``); 0.6 inlines the same lookup
    (``task_description``, else ``task``, else empty strings) in its rollout loop, written out here.
    """
    if not IS_LEROBOT_06:
        from lerobot.envs.utils import add_envs_task as stock

        return stock(env, observation)
    for name in ("task_description", "task"):
        try:
            observation["task"] = list(env.call(name))
            return observation
        except (AttributeError, NotImplementedError):
            continue
    observation["task"] = [""] * env.num_envs
    return observation


# ---------------------------------------------------------------------------------------------------------------
# Datasets, features, processors
# ---------------------------------------------------------------------------------------------------------------
def feature_utils() -> ModuleType:
    """LeRobot's dataset-feature helpers (``hw_to_dataset_features``, ``dataset_to_policy_features``,
    ``combine_feature_dicts``, ``build_dataset_frame``): ``lerobot.datasets.utils`` on 0.4.4,
    ``lerobot.utils.feature_utils`` on 0.6."""
    return importlib.import_module("lerobot.utils.feature_utils" if IS_LEROBOT_06 else "lerobot.datasets.utils")


def newline_task_processor() -> Any:
    """The processor step that ends the task text with a newline (SmolVLA, PaliGemma tokenizers)."""
    if IS_LEROBOT_06:
        from lerobot.processor.newline_task_processor import NewLineTaskProcessorStep

        return NewLineTaskProcessorStep()
    from lerobot.policies.smolvla.processor_smolvla import SmolVLANewLineProcessor

    return SmolVLANewLineProcessor()


def video_codec_kwargs(vcodec: str) -> dict[str, Any]:
    """``LeRobotDataset.create`` keyword(s) that choose the camera video codec."""
    if IS_LEROBOT_06:
        from lerobot.configs.video import RGBEncoderConfig

        return {"rgb_encoder": RGBEncoderConfig(vcodec=vcodec)}
    return {"vcodec": vcodec}


def dataset_writer(dataset: Any) -> Any:
    """The object holding a dataset's ``image_writer`` and streaming video encoder (0.6 moved them to
    ``dataset.writer``); ``None`` for a read-only 0.6 dataset."""
    return dataset.writer if IS_LEROBOT_06 else dataset


def stop_image_writer(dataset: Any) -> None:
    """Stop the dataset's PNG writer threads (a no-op when none run)."""
    writer = dataset_writer(dataset)
    if writer is not None:
        writer.stop_image_writer()
