"""Run a policy in an env for a number of episodes: the loop behind ``so101-sim rollout`` and the tests.

A policy here is anything with ``reset()`` and ``act(agent_pos, environment_state) -> action`` (the scripted
expert), or a callable ``obs -> action``. Videos tile the env's cameras side by side, one frame per step.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass
class RolloutResult:
    per_episode: list[dict[str, Any]] = field(default_factory=list)
    steps_per_second: float = 0.0

    @property
    def episodes(self) -> int:
        return len(self.per_episode)

    @property
    def success_rate(self) -> float:
        return float(np.mean([e["success"] for e in self.per_episode])) if self.per_episode else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "episodes": self.episodes,
            "success_rate": self.success_rate,
            "mean_return": float(np.mean([e["return"] for e in self.per_episode])) if self.per_episode else 0.0,
            "mean_length": float(np.mean([e["length"] for e in self.per_episode])) if self.per_episode else 0.0,
            "steps_per_second": round(self.steps_per_second, 1),
        }

    def table(self) -> str:
        lines = [f"{'episode':>7}  {'seed':>6}  {'success':>7}  {'steps':>5}  {'return':>9}"]
        for e in self.per_episode:
            lines.append(f"{e['episode']:>7}  {e['seed']:>6}  {str(e['success']):>7}  {e['length']:>5}  {e['return']:>9.2f}")
        return "\n".join(lines)


def tile_frames(obs: dict[str, Any]) -> np.ndarray | None:
    """All camera images of an observation side by side (padded to the tallest)."""
    pixels = obs.get("pixels")
    if not pixels:
        return None
    images = list(pixels.values())
    height = max(im.shape[0] for im in images)
    padded = [np.pad(im, ((0, height - im.shape[0]), (0, 0), (0, 0))) for im in images]
    return np.concatenate(padded, axis=1)


class VideoWriter:
    """mp4 via imageio-ffmpeg, written to a temporary file beside the target.

    ``close()`` finishes the file and moves it into place; ``discard()`` (what a run that raised must call)
    deletes it, so a partial video never takes the target's name (nor replaces an earlier complete one). As a
    context manager it does the right one by itself.
    """

    def __init__(self, path: str | Path, fps: int) -> None:
        import imageio.v2 as imageio

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.partial.mp4")
        self._writer = imageio.get_writer(self._tmp, fps=fps, codec="libx264", macro_block_size=8, quality=7)
        self.frames = 0

    def add(self, frame: np.ndarray) -> None:
        self._writer.append_data(frame)
        self.frames += 1

    def close(self) -> None:
        """Finish the video and publish it at ``path``."""
        self._writer.close()
        self._tmp.replace(self.path)

    def discard(self) -> None:
        """Stop writing and delete the partial file; ``path`` is left as it was."""
        try:
            self._writer.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def run_episodes(
    env,
    policy,
    episodes: int,
    seed: int = 0,
    video: str | Path | None = None,
    video_episodes: int = 3,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> RolloutResult:
    result = RolloutResult()
    writer = VideoWriter(video, env.metadata.get("render_fps", 30)) if video else None
    total_steps, t0 = 0, time.perf_counter()
    try:
        for ep in range(episodes):
            obs, info = env.reset(seed=seed + ep)
            if hasattr(policy, "reset"):
                policy.reset()
            ret, length, success = 0.0, 0, False
            record = writer is not None and ep < video_episodes
            while True:
                if record and (frame := tile_frames(obs)) is not None:
                    writer.add(frame)
                action = policy.act(obs["agent_pos"], obs["environment_state"]) if hasattr(policy, "act") else policy(obs)
                obs, reward, terminated, truncated, info = env.step(action)
                ret += float(reward)
                length += 1
                success = success or bool(info.get("is_success", False))
                if terminated or truncated:
                    break
            total_steps += length
            row = {"episode": ep, "seed": seed + ep, "success": success, "length": length, "return": ret}
            result.per_episode.append(row)
            if progress:
                progress(row)
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    if writer is not None:
        writer.close()
    result.steps_per_second = total_steps / max(time.perf_counter() - t0, 1e-9)
    return result


def json_line(result: RolloutResult, **extra: Any) -> str:
    return json.dumps({**result.summary(), **extra})


@dataclass
class DemoCounts:
    """What :func:`record_expert_demos` did: kept episodes, attempts, frames kept, successes kept."""

    episodes: int = 0
    attempts: int = 0
    frames: int = 0
    successes: int = 0


def record_expert_demos(
    env,
    expert,
    episodes: int,
    *,
    on_begin: Callable[[int], None],
    on_step: Callable[[dict[str, Any], np.ndarray], None],
    on_end: Callable[[bool, bool], None],
    seed: int = 0,
    keep_failures: bool = False,
    max_attempts_factor: int = 3,
    progress: Callable[[], None] | None = None,
) -> DemoCounts:
    """Roll the expert out until ``episodes`` episodes are kept, streaming every step to a sink.

    The sink (a LeRobot dataset, an Isaac Lab HDF5 file) gets ``on_begin(seed)``, ``on_step(obs, action)``
    for each step (the observation the action was chosen from) and ``on_end(keep, success)``; failed
    episodes are discarded (``keep=False``) unless ``keep_failures``. Attempt ``i`` uses seed ``seed + i``.
    """
    counts = DemoCounts()
    while counts.episodes < episodes:
        if counts.attempts >= episodes * max_attempts_factor:
            raise RuntimeError(f"only {counts.episodes} of {episodes} episodes succeeded in {counts.attempts} attempts")
        attempt_seed = seed + counts.attempts
        counts.attempts += 1
        obs, _ = env.reset(seed=attempt_seed)
        expert.reset()
        on_begin(attempt_seed)
        success, steps = False, 0
        while True:
            action = np.asarray(expert.act(obs["agent_pos"], obs["environment_state"]), dtype=np.float32)
            on_step(obs, action)
            steps += 1
            obs, _, terminated, truncated, info = env.step(action)
            success = success or bool(info["is_success"])
            if terminated or truncated:
                break
        keep = success or keep_failures
        on_end(keep, success)
        if keep:
            counts.episodes += 1
            counts.frames += steps
            counts.successes += int(success)
            if progress:
                progress()
    return counts
