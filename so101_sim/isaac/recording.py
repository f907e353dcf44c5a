"""Demonstration recording with Isaac Lab's recorder, in the HDF5 layout the converter reads.

:func:`recorder_cfg` returns Isaac Lab's ``ActionStateRecorderManagerCfg`` (actions, per-step states, the
``policy`` observation group, initial state, processed actions) plus a term that records the ``images``
group, so each demo holds::

    data/demo_<i>/actions                  (T, 6)  absolute joint targets, radians (the VLA action term)
    data/demo_<i>/obs/joint_pos            (T, 6)  radians          obs/joint_vel (T, 6) rad/s
    data/demo_<i>/obs/ee_pos, obs/ee_quat  (T, 3), (T, 4)  tool frame, env-local
    data/demo_<i>/obs/environment_state    (T, 13) so101_sim.tasks.ENV_STATE_NAMES
    data/demo_<i>/obs/front, obs/wrist     (T, H, W, 3) uint8 (camera1, camera2; the converter's so101 mapping)
    data/demo_<i>/initial_state, states, processed_actions
    attrs: data/demo_<i>.success from the task's ``success`` termination term (Isaac Lab's convention)

Set it on a task configuration before creating the env::

    cfg = isaac_so_arm101.make_task_cfg("Isaac-SO-ARM101-Lift-Cube-v0")
    cfg.recorders = recorder_cfg("/data/demos", "lift_demos")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from so101_sim.cameras import RECORDED_CAMERA_NAMES  # camera term -> its name in the HDF5 file (so101 mapping)
from so101_sim.isaac.isaaclab_api import il

IMAGE_GROUP = "images"
_IMAGES_RECORDER: type | None = None


def images_recorder_class() -> type:
    """A ``RecorderTerm`` writing the ``images`` observation group under ``obs/`` before each step."""
    global _IMAGES_RECORDER
    if _IMAGES_RECORDER is None:

        class PreStepImageObservationsRecorder(il.RecorderTerm):
            def record_pre_step(self):
                obs = self._env.obs_buf
                if IMAGE_GROUP not in obs:
                    return None, None
                images = obs[IMAGE_GROUP]
                return "obs", {RECORDED_CAMERA_NAMES.get(k, k): v for k, v in images.items()}

        _IMAGES_RECORDER = PreStepImageObservationsRecorder
    return _IMAGES_RECORDER


def recorder_cfg(output_dir: str | Path, filename: str = "so101_demos", successful_only: bool = False,
                 images: bool = True) -> Any:
    """Isaac Lab recorder configuration writing ``<output_dir>/<filename>.hdf5``."""
    mode = il.DatasetExportMode.EXPORT_SUCCEEDED_ONLY if successful_only else il.DatasetExportMode.EXPORT_ALL
    cfg = il.ActionStateRecorderManagerCfg(dataset_export_dir_path=str(output_dir), dataset_filename=filename,
                                           dataset_export_mode=mode)
    if images:
        cfg.record_pre_step_images = il.RecorderTermCfg(class_type=images_recorder_class())
    return cfg
