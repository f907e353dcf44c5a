"""Scripted-expert demonstrations straight into a LeRobot v3 dataset (``so101-sim record-demos``).

The dataset has the features a real SO-101 recorded with ``lerobot-record`` has (``observation.state`` and
``action`` named ``<motor>.pos`` in so101_follower units, ``observation.images.<camera>``), so policies
trained on it run on the real arm and on ``--env.type=so101`` with no rename map. ``--env-state`` adds
``observation.environment_state`` (cube pose and target) and ``--tactile`` the simulated pad grids as
``observation.tactile.force_grid``. Only successful episodes are kept unless ``--keep-failures``.

Frames are encoded while the episode is simulated (lerobot's streaming encoder, one thread per camera), the
dataset is built beside the target and moved into place when complete, and ``finalize()`` is always called.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from so101_sim.adapters import JOINT_NAMES
from so101_sim.cameras import CAMERAS
from so101_sim.rollout import DemoCounts
from so101_sim.convert import atomic
from so101_sim.tasks import ENV_STATE_NAMES


ENCODER_QUEUE = 30  # frames queued per camera encoder (lerobot's default, passed explicitly: the wait uses it)


class DroppedFramesError(RuntimeError):
    """An episode's video holds fewer frames than the episode has rows (lerobot's encoder dropped some)."""


@dataclass
class RecordOptions:
    task: str = "Lift-v0"
    episodes: int = 10
    repo_id: str = "local/so101_sim_lift"
    root: Path = Path("outputs/datasets/so101_sim_lift")
    seed: int = 0
    cameras: tuple[str, ...] = CAMERAS
    image_size: int = 256
    use_videos: bool = True
    vcodec: str = "libsvtav1"
    env_state: bool = False
    tactile: bool = False
    keep_failures: bool = False
    max_attempts_factor: int = 3
    overwrite: bool = False
    progress: bool = True
    units: str = "lerobot"


def dataset_features(opts: RecordOptions, tactile_shape: tuple[int, ...] | None) -> dict[str, dict[str, Any]]:
    motor_names = [f"{n}.pos" for n in JOINT_NAMES]
    kind = "video" if opts.use_videos else "image"
    features: dict[str, dict[str, Any]] = {
        "action": {"dtype": "float32", "shape": (6,), "names": motor_names},
        "observation.state": {"dtype": "float32", "shape": (6,), "names": motor_names},
    }
    for cam in opts.cameras:
        features[f"observation.images.{cam}"] = {
            "dtype": kind,
            "shape": (opts.image_size, opts.image_size, 3),
            "names": ["height", "width", "channels"],
        }
    if opts.env_state:
        features["observation.environment_state"] = {
            "dtype": "float32", "shape": (len(ENV_STATE_NAMES),), "names": list(ENV_STATE_NAMES),
        }  # fmt: skip
    if opts.tactile and tactile_shape is not None:
        features["observation.tactile.force_grid"] = {
            "dtype": "float32", "shape": tactile_shape, "names": ["finger", "row", "col", "xyz"],
        }  # fmt: skip
    return features


@dataclass
class RecordReport(DemoCounts):
    seconds: float = 0.0
    root: Path | None = None

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def _frame(obs: dict[str, Any], action: np.ndarray, opts: RecordOptions, task_text: str) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "action": np.asarray(action, dtype=np.float32),
        "observation.state": np.asarray(obs["agent_pos"], dtype=np.float32),
        "task": task_text,
    }
    for cam in opts.cameras:
        frame[f"observation.images.{cam}"] = obs["pixels"][cam]
    if opts.env_state:
        frame["observation.environment_state"] = np.asarray(obs["environment_state"], dtype=np.float32)
    if opts.tactile:
        frame["observation.tactile.force_grid"] = np.asarray(obs["tactile"], dtype=np.float32)
    return frame


def record_demos(opts: RecordOptions) -> RecordReport:
    import gymnasium as gym
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from tqdm import tqdm

    import so101_sim  # noqa: F401
    from so101_sim.convert.converter import release_free_memory, video_frame_shortfall, wait_for_encoder
    from so101_sim.lerobot.compat import video_codec_kwargs
    from so101_sim.mujoco.expert import ScriptedExpert
    from so101_sim.rollout import record_expert_demos

    target = Path(opts.root)
    if (target.exists() or target.is_symlink()) and not opts.overwrite:
        raise FileExistsError(f"{target} already exists; pass --overwrite to replace it (nothing was changed)")
    env = gym.make(
        f"so101_sim/{opts.task}", cameras=opts.cameras, image_size=opts.image_size, units=opts.units,
        tactile=opts.tactile,
    )  # fmt: skip
    tactile_shape = env.observation_space["tactile"].shape if opts.tactile else None
    expert = ScriptedExpert(opts.task, units=opts.units, seed=opts.seed)
    task_text = env.unwrapped.task_description
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic.remove_stale_partials(target)
    work = atomic.partial_path(target)
    dataset = None
    fps = int(env.metadata["render_fps"])
    video_keys = [f"observation.images.{cam}" for cam in opts.cameras] if opts.use_videos else []
    frames_in_episode = 0
    t0 = time.perf_counter()
    try:
        with atomic.sigterm_as_interrupt():
            dataset = LeRobotDataset.create(
                repo_id=opts.repo_id, fps=fps, features=dataset_features(opts, tactile_shape),
                root=work, robot_type="so101_sim", use_videos=opts.use_videos, **video_codec_kwargs(opts.vcodec),
                streaming_encoding=opts.use_videos, image_writer_threads=0 if opts.use_videos else 4,
                encoder_queue_maxsize=ENCODER_QUEUE,
            )  # fmt: skip
            bar = tqdm(total=opts.episodes, unit="ep", desc=f"record {opts.task}", disable=not opts.progress)

            def begin(seed: int) -> None:
                nonlocal frames_in_episode
                frames_in_episode = 0

            def step(obs: dict[str, Any], action: np.ndarray) -> None:
                nonlocal frames_in_episode
                wait_for_encoder(dataset, ENCODER_QUEUE - 2)
                dataset.add_frame(_frame(obs, action, opts, task_text))
                frames_in_episode += 1

            def end(keep: bool, success: bool) -> None:
                if keep:
                    dataset.save_episode()
                    release_free_memory()
                    problems = video_frame_shortfall(dataset, video_keys, frames_in_episode, fps)
                    if problems:
                        raise DroppedFramesError(
                            f"record-demos {opts.task}: episode {dataset.meta.total_episodes - 1}: "
                            f"{'; '.join(problems)}; the video encoder lost frames (nothing was written to "
                            f"{target}). Re-run with --images, fewer cameras, or on a less loaded machine."
                        )
                else:
                    dataset.clear_episode_buffer()

            counts = record_expert_demos(
                env, expert, opts.episodes, seed=opts.seed, keep_failures=opts.keep_failures,
                max_attempts_factor=opts.max_attempts_factor, progress=lambda: bar.update(1),
                on_begin=begin, on_step=step, on_end=end,
            )  # fmt: skip
            report = RecordReport(**vars(counts))
            bar.close()
            dataset.finalize()
            atomic.publish(work, target, opts.overwrite)
    except BaseException:
        if dataset is not None:
            with contextlib.suppress(Exception):
                dataset.finalize()
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        env.close()
    report.seconds = time.perf_counter() - t0
    report.root = target
    return report
