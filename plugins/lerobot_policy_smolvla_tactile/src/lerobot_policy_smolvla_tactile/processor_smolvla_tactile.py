"""Pre/post-processors of ``smolvla_tactile``: SmolVLA's pipelines, which normalise the tactile grid too.

LeRobot 0.4.4 has no TACTILE feature type: a dataset feature ``observation.tactile.force_grid`` is typed STATE
(``observation.environment_state`` is ENV), so it is one of the config's ``input_features`` and the pipeline's
``NormalizerProcessorStep`` applies MEAN_STD to it with the dataset's stats (this config adds ENV -> MEAN_STD,
which stock SmolVLA lacks). LeRobot computes the stats of an N-d feature over its last axis, so a
(fingertips, rows, cols, 3) grid gets (3,) stats: each force axis (fx, fy, fz) is normalised with its own
mean and std over all taxels, fingertips and frames. The saved ``policy_preprocessor.json`` keeps the stock
step names, including ``rename_observations_processor`` and ``device_processor`` that lerobot-eval overrides.

Note that ``lerobot.policies.factory.make_pre_post_processors`` dispatches on ``isinstance(cfg,
SmolVLAConfig)`` before it looks for a plugin's ``make_<type>_pre_post_processors``, so LeRobot 0.4.4 builds
these very pipelines through the stock function; this module is what other callers (and later LeRobot versions
that look the factory up by type name) get, with the tactile stats check on top.
"""

from __future__ import annotations

from typing import Any

import torch
from lerobot.policies.smolvla.processor_smolvla import make_smolvla_pre_post_processors
from lerobot.processor import PolicyAction, PolicyProcessorPipeline

from .configuration_smolvla_tactile import SmolVLATactileConfig
from .modeling_smolvla_tactile import _check_tactile_stats


def make_smolvla_tactile_pre_post_processors(
    config: SmolVLATactileConfig,
    dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None,
) -> tuple[
    PolicyProcessorPipeline[dict[str, Any], dict[str, Any]],
    PolicyProcessorPipeline[PolicyAction, PolicyAction],
]:
    _check_tactile_stats(config, dataset_stats)
    return make_smolvla_pre_post_processors(config, dataset_stats=dataset_stats)
