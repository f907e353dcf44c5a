"""Isaac Lab HDF5 demonstrations -> a LeRobot v3 dataset (lerobot 0.4.4's public writing API).

Flow: check the target, open the file, inspect every selected demo from HDF5 metadata and its small numeric
arrays (so a bad demo stops the run before any encoding), then stream demo by demo into
``LeRobotDataset.create(..., streaming_encoding=True)`` in a partial directory beside the target, ``finalize()``,
and move it into place. Memory is bounded by one demo's numeric data plus one block of frames.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import functools
import json
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from so101_sim.convert import atomic
from so101_sim.convert.errors import ConversionError, DemoError
from so101_sim.convert.mapping import Mapping
from so101_sim.convert.source import (
    BlockReader,
    Schema,
    SourceFile,
    image_block_frames,
    inspect_demo,
    load_numeric,
    tactile_grid_block,
)

log = logging.getLogger(__name__)


@dataclass
class ConvertOptions:
    input: Path
    output_dir: Path
    repo_id: str
    mapping: Mapping
    task: str | None = None
    fps: int | None = None
    use_videos: bool = True  # False: store frames as PNG images in the parquet files (--images)
    only_success: bool = False
    skip_bad: bool = False
    overwrite: bool = False
    grid_shape: tuple[int, int] | None = None
    vcodec: str = "libsvtav1"
    encoder_threads: int | None = None  # threads per camera encoder; None lets the codec decide
    encoder_queue: int | None = None  # frames queued per camera encoder; None: about 64 MiB per camera
    image_writer_threads: int = 4  # PNG writers for --images
    block_budget_mb: int = 32  # memory for one block of frames of all cameras (two blocks are in flight)
    read_threads: int | None = None  # threads inflating gzip chunks; None: one per core
    progress: bool = True

    @property
    def target(self) -> Path:
        return Path(self.output_dir) / self.repo_id


@dataclass
class DemoOutcome:
    demo: str
    converted: bool
    frames: int = 0
    episode_index: int | None = None
    reason: str = ""


@dataclass
class ConversionReport:
    input: Path
    output: Path | None
    outcomes: list[DemoOutcome] = field(default_factory=list)
    seconds: float = 0.0
    fps: int = 0
    fps_source: str = ""
    task: str = ""

    @property
    def converted(self) -> list[DemoOutcome]:
        return [o for o in self.outcomes if o.converted]

    @property
    def skipped(self) -> list[DemoOutcome]:
        return [o for o in self.outcomes if not o.converted]

    @property
    def frames(self) -> int:
        return sum(o.frames for o in self.converted)

    def summary(self) -> str:
        lines = [
            (
                f"Converted {len(self.converted)} demo(s), {self.frames} frames, skipped {len(self.skipped)} "
                f"({self.seconds:.1f} s, {self.frames / max(self.seconds, 1e-9):.1f} frames/s)"
            ),
        ]
        if self.fps:
            lines.append(f"Frame rate: {self.fps} fps, from {self.fps_source}")
        if self.output:
            lines.append(f"Output: {self.output}")
        for o in self.converted:
            lines.append(f"  converted {o.demo} -> episode {o.episode_index} ({o.frames} frames)")
        for o in self.skipped:
            lines.append(f"  skipped   {o.demo}: {o.reason}")
        return "\n".join(lines)


def instruction_of_gym_id(env_name: str) -> str | None:
    """The language instruction of one of this project's gym ids (``so101_sim/Lift-v0``,
    ``Isaac-SO-ARM101-Lift-Cube-v0``), or None for any other id. A gym id itself is never an instruction."""
    import isaac_so_arm101  # registers gym ids only; does not import Isaac Lab

    from so101_sim.tasks import TASKS

    name = env_name.strip()
    if name.startswith("so101_sim/") and name.split("/", 1)[1] in TASKS:
        return TASKS[name.split("/", 1)[1]].instruction
    if name in isaac_so_arm101.TASKS:
        return isaac_so_arm101.TASKS[name].instruction
    return None


def resolve_task(opts: ConvertOptions, env_args: dict[str, Any]) -> str:
    """The language instruction of every episode: ``--task``, the mapping's ``task``, the file's
    ``env_args["task"]``/``["task_description"]``, or the instruction of a gym id of this project.

    A file that names only some other gym id (e.g. ``Isaac-Lift-Cube-Franka-Tactile-v0``) is refused: the id
    would become the text a VLA is conditioned on, a plausible but wrong dataset.
    """
    for value in (opts.task, opts.mapping.task, env_args.get("task"), env_args.get("task_description")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    env_name = env_args.get("env_name")
    if isinstance(env_name, str) and env_name.strip():
        known = instruction_of_gym_id(env_name)
        if known is not None:
            log.info("task text %r: the instruction of the file's env_name %r", known, env_name)
            return known
        raise ConversionError(
            f"{opts.input}: no task text: the file's env_args names only the gym id {env_name!r}, which is not "
            "a language instruction; pass --task 'what the robot does' (or set 'task:' in the mapping)"
        )
    raise ConversionError(
        f"{opts.input}: no task text: the file's env_args has neither 'task' nor 'env_name'; pass --task"
    )


def resolve_fps(opts: ConvertOptions, env_args: dict[str, Any]) -> tuple[int, str]:
    """(frame rate, where it came from): ``--fps``, the file's ``env_args["fps"]``, else the mapping's ``fps``.

    There is no built-in default: a rate nobody declared is refused. When the mapping supplies it (Isaac Lab's
    recorder does not store a rate), a warning says so, since a wrong rate silently retimes every video.
    """
    sources = (
        (opts.fps, "--fps"),
        (env_args.get("fps"), f"the file's env_args['fps'] ({opts.input})"),
        (opts.mapping.fps, f"the mapping's fps ({opts.mapping.source})"),
    )
    for value, source in sources:
        if value is None:
            continue
        try:
            fps = round(float(value))
        except (TypeError, ValueError):
            raise ConversionError(f"fps from {source} must be a number, got {value!r}") from None
        if fps <= 0:
            raise ConversionError(f"fps from {source} must be positive, got {value!r}")
        if source.startswith("the mapping"):
            log.warning(
                "%s records no frame rate; using %d fps from %s (pass --fps if the demos ran at another rate)",
                opts.input, fps, source,
            )  # fmt: skip
        return fps, source
    raise ConversionError(
        f"{opts.input}: no frame rate: the file's env_args has no 'fps' and mapping {opts.mapping.source} sets "
        "none; pass --fps (the control rate the demos were recorded at)"
    )


def _mapping_with_grid(mapping: Mapping, grid_shape: tuple[int, int] | None) -> Mapping:
    if grid_shape is None or mapping.tactile is None:
        return mapping
    return dataclasses.replace(mapping, tactile=dataclasses.replace(mapping.tactile, grid_shape=tuple(grid_shape)))


def _select(
    src: SourceFile, opts: ConvertOptions, mapping: Mapping, report: ConversionReport
) -> tuple[Schema, list[tuple[str, int]]]:
    """Pick the demos to convert and check them before anything is written."""
    schema: Schema | None = None
    selected: list[tuple[str, int]] = []
    for name in src.demo_names():
        try:
            info = src.info(name)
            if opts.only_success and info.success is not True:
                reason = "success=False" if info.success is False else "no 'success' attribute (--only-success)"
                report.outcomes.append(DemoOutcome(name, False, reason=reason))
                continue
            T, schema = inspect_demo(src, name, mapping, schema)
            load_numeric(src, name, schema)  # NaN/inf and unreadable numeric data show up here, before encoding
        except DemoError as err:
            if not opts.skip_bad:
                raise
            log.warning("skipping %s", err)
            report.outcomes.append(DemoOutcome(name, False, reason=err.reason))
            continue
        selected.append((name, T))
    if schema is None or not selected:
        raise ConversionError(f"{src.path}: no demo to convert\n" + report.summary())
    return schema, selected


def _check_video_size(opts: ConvertOptions, schema: Schema) -> None:
    """SVT-AV1 (lerobot's default codec) dies with SIGFPE on frames narrower than ~26 px: refuse early."""
    if not opts.use_videos or opts.vcodec != "libsvtav1":
        return
    for cam, (h, w, _) in schema.cameras:
        if w < 32 or h < 8:
            raise ConversionError(
                f"{opts.input}: '{cam.key}' frames are {h}x{w}; libsvtav1 needs at least 8x32 (height x width). "
                "Use --images, or --vcodec h264."
            )


def wait_for_encoder(dataset, high_water: int) -> None:
    """Back-pressure for lerobot 0.4.4's streaming encoder.

    ``StreamingVideoEncoder.feed_frame`` drops a frame when its queue stays full for 0.1 s. A converter reads
    faster than it encodes, so we wait (reading the queue sizes only) until each camera's queue has room; a
    frame is then never dropped. If a future lerobot renames these internals this becomes a no-op and the
    per-episode frame-count check below still catches any loss.
    """
    from so101_sim.lerobot.compat import dataset_writer  # lerobot 0.6 keeps the encoder on dataset.writer

    encoder = getattr(dataset_writer(dataset), "_streaming_encoder", None)
    queues = getattr(encoder, "_frame_queues", None)
    threads = getattr(encoder, "_threads", {})
    if not queues:
        return
    while True:
        full = [k for k, q in queues.items() if q.qsize() >= high_water]
        if not full or not all(threads.get(k) is not None and threads[k].is_alive() for k in full):
            return
        time.sleep(0.0005)


def _wait_for_image_writer(dataset, limit: int) -> None:
    """Back-pressure for ``--images``: lerobot's PNG writer queue is unbounded, and PNG compression is slower
    than reading, so without this a long demo would pile up in memory."""
    from so101_sim.lerobot.compat import dataset_writer  # lerobot 0.6 keeps the PNG writer on dataset.writer

    writer = getattr(dataset_writer(dataset), "image_writer", None)
    pending = getattr(writer, "queue", None)
    if pending is None:
        return
    while pending.qsize() > limit and any(t.is_alive() for t in getattr(writer, "threads", [])):
        time.sleep(0.001)


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def release_free_memory() -> None:
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    Every episode starts fresh encoder threads, and glibc gives threads their own malloc arenas. Without a trim
    the process keeps the freed frame buffers of past episodes in those arenas: measured, peak RSS grew by
    ~0.5 GiB over the first 20 episodes at 640x480, and stays flat with a trim after each episode.
    """
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def video_frame_shortfall(dataset, video_keys: list[str], expected: int, fps: int) -> list[str]:
    """One line per video of the episode just saved whose frame count is not ``expected`` (empty: all complete).

    lerobot's streaming encoder drops a frame when its queue stays full; the episode's metadata still spans the
    frames actually encoded, so the count is read back from its video timestamps. Shared by the converter and
    ``record-demos``: a dataset whose videos are shorter than its parquet rows decodes the wrong frames.
    """
    latest = dataset.meta.latest_episode or {}
    problems = []
    for key in video_keys:
        try:
            start = float(np.ravel(latest[f"videos/{key}/from_timestamp"])[0])
            end = float(np.ravel(latest[f"videos/{key}/to_timestamp"])[0])
        except KeyError:
            problems.append(f"the episode metadata has no timestamps for '{key}' (cannot check its frame count)")
            continue
        frames = round((end - start) * fps)
        if frames != expected:
            problems.append(f"the video of '{key}' holds {frames} frames, expected {expected}")
    return problems


def _check_episode_videos(dataset, schema: Schema, name: str, T: int, fps: int, src: Path) -> None:
    problems = video_frame_shortfall(dataset, [cam.feature for cam, _ in schema.cameras], T, fps)
    if problems:
        raise ConversionError(
            f"{src}: {name}: {'; '.join(problems)}; the encoder lost frames. Re-run with --images, or on a less "
            "loaded machine."
        )


def _start_block(reader: BlockReader, schema: Schema, name: str, b0: int, b1: int) -> dict:
    return {cam.feature: reader.submit(name, cam.key, b0, b1) for cam, _ in schema.cameras}


def _write_demo(
    dataset,
    reader: BlockReader,
    name: str,
    T: int,
    schema: Schema,
    task: str,
    block: int,
    high_water: int,
    pbar: tqdm | None,
    first: dict | None,
    next_demo: tuple[str, int] | None,
) -> dict | None:
    """Feed one demo to the dataset and save it as an episode.

    ``first`` is this demo's already-started first block (or None); the next demo's first block is started
    before ``save_episode()`` so that it inflates while lerobot writes parquet and stats. Returns it.
    """
    arrays = load_numeric(reader.src, name, schema)
    tactile = schema.tactile
    blocks = [(b0, min(T, b0 + block)) for b0 in range(0, T, block)]
    pending = first if first is not None else _start_block(reader, schema, name, *blocks[0])
    for k, (b0, b1) in enumerate(blocks):
        images = {feat: wait() for feat, wait in pending.items()}
        if k + 1 < len(blocks):
            pending = _start_block(reader, schema, name, *blocks[k + 1])  # inflates while this one encodes
        grids = tactile_grid_block(tactile, arrays, b0, b1) if tactile else None
        for i in range(b1 - b0):
            frame: dict[str, Any] = {feat: values[b0 + i] for feat, values in arrays.vectors.items()}
            for feat, block_images in images.items():
                frame[feat] = block_images[i]
            if tactile:
                frame[tactile.grid_feature] = grids[i]
                frame[tactile.force_feature] = arrays.forces[b0 + i]
            frame["task"] = task
            wait_for_encoder(dataset, high_water)
            _wait_for_image_writer(dataset, high_water * len(images))
            dataset.add_frame(frame)
        del images
        if pbar is not None:
            pbar.update(b1 - b0)
    upcoming = None
    if next_demo is not None:
        upcoming = _start_block(reader, schema, next_demo[0], 0, min(block, next_demo[1]))
    dataset.save_episode()
    return upcoming


def _encoder_queue(opts: ConvertOptions, schema: Schema) -> int:
    """Frames each camera encoder may queue: enough to keep encoding while ``save_episode`` runs (~64 MiB)."""
    if opts.encoder_queue is not None:
        return max(2, opts.encoder_queue)
    frame_bytes = max((int(np.prod(shape)) for _, shape in schema.cameras), default=1)
    return int(np.clip((64 << 20) // frame_bytes, 30, 256))


def convert(opts: ConvertOptions) -> ConversionReport:
    """Run one conversion. Raises :class:`ConversionError` (nothing at the target) or returns a report."""
    t0 = time.perf_counter()
    target = opts.target
    if (target.exists() or target.is_symlink()) and not opts.overwrite:
        raise ConversionError(f"{target} already exists; pass --overwrite to replace it (nothing was changed)")
    mapping = _mapping_with_grid(opts.mapping, opts.grid_shape)
    report = ConversionReport(input=Path(opts.input), output=None)

    src = SourceFile(opts.input)
    try:
        task = resolve_task(opts, src.env_args)
        fps, report.fps_source = resolve_fps(opts, src.env_args)
        report.task, report.fps = task, fps
        schema, selected = _select(src, opts, mapping, report)
        _check_video_size(opts, schema)
        features = schema.features(opts.use_videos)
        block = image_block_frames(schema, opts.block_budget_mb << 20, src, selected[0][0])

        from lerobot.datasets.lerobot_dataset import LeRobotDataset  # heavy: only once the input checked out

        from so101_sim.lerobot.compat import stop_image_writer, video_codec_kwargs

        t0 = time.perf_counter()  # conversion time, without the ~5-10 s of importing torch and lerobot

        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.remove_stale_partials(target)
        work = atomic.partial_path(target)
        dataset = None
        queue_size = _encoder_queue(opts, schema)
        pool = ThreadPoolExecutor(
            max_workers=opts.read_threads or os.cpu_count() or 2, thread_name_prefix="hdf5-inflate"
        )
        reader = BlockReader(src, pool)
        try:
            with atomic.sigterm_as_interrupt():
                dataset = LeRobotDataset.create(
                    repo_id=opts.repo_id,
                    fps=fps,
                    features=features,
                    root=work,
                    robot_type=mapping.robot_type,
                    use_videos=opts.use_videos,
                    image_writer_threads=0 if opts.use_videos else opts.image_writer_threads,
                    **video_codec_kwargs(opts.vcodec),
                    streaming_encoding=opts.use_videos,
                    encoder_queue_maxsize=queue_size,
                    encoder_threads=opts.encoder_threads,
                )
                total = sum(T for _, T in selected)
                pbar = tqdm(total=total, unit="frame", desc="converting", disable=not opts.progress, smoothing=0.05)
                skipped_during_write: dict[str, str] = {}
                try:
                    upcoming = None
                    for k, (name, T) in enumerate(selected):
                        next_demo = selected[k + 1] if k + 1 < len(selected) else None
                        try:
                            first, upcoming = upcoming, None
                            upcoming = _write_demo(
                                dataset, reader, name, T, schema, task, block, queue_size - 1, pbar, first, next_demo
                            )
                        except DemoError as err:
                            if not opts.skip_bad:
                                raise
                            log.warning("skipping %s", err)
                            dataset.clear_episode_buffer()
                            skipped_during_write[name] = err.reason
                            pbar.update(T)
                            continue
                        release_free_memory()
                        if opts.use_videos:
                            _check_episode_videos(dataset, schema, name, T, fps, src.path)
                        report.outcomes.append(
                            DemoOutcome(name, True, frames=T, episode_index=dataset.meta.total_episodes - 1)
                        )
                finally:
                    pbar.close()
                for name, reason in skipped_during_write.items():
                    report.outcomes.append(DemoOutcome(name, False, reason=reason))
                if not report.converted:
                    raise ConversionError(f"{src.path}: no demo could be converted\n" + report.summary())
                dataset.finalize()
                _check_written(work, opts.repo_id, report)
                _write_provenance(work, opts, mapping, schema, report)
                atomic.publish(work, target, opts.overwrite)
                report.output = target
        except BaseException:
            if dataset is not None:
                with contextlib.suppress(Exception):
                    dataset.finalize()  # stops the encoder threads before the directory goes
                with contextlib.suppress(Exception):
                    stop_image_writer(dataset)
            shutil.rmtree(work, ignore_errors=True)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        src.close()
    report.outcomes.sort(key=lambda o: int(o.demo.rsplit("_", 1)[-1]))
    report.seconds = time.perf_counter() - t0
    return report


def _check_written(root: Path, repo_id: str, report: ConversionReport) -> None:
    """Re-read the finished metadata (from disk, no Hub access) and compare counts with the source."""
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    meta = LeRobotDatasetMetadata(repo_id, root=root)
    expected = [o.frames for o in report.converted]
    if meta.total_episodes != len(expected) or meta.total_frames != sum(expected):
        raise ConversionError(
            f"written dataset disagrees with the source: {meta.total_episodes} episodes / {meta.total_frames} "
            f"frames, expected {len(expected)} / {sum(expected)}"
        )
    lengths = [int(x) for x in meta.episodes["length"]]
    if lengths != expected:
        raise ConversionError(f"episode lengths {lengths} differ from the demos' num_samples {expected}")


def _write_provenance(
    root: Path, opts: ConvertOptions, mapping: Mapping, schema: Schema, report: ConversionReport
) -> None:
    """``meta/conversion.json``: where each episode came from (LeRobot ignores extra files in meta/)."""
    info = {
        "source": str(Path(opts.input).resolve()),
        "mapping": mapping.source,
        "units": mapping.units,
        "task": report.task,
        "fps": report.fps,
        "fps_source": report.fps_source,
        "tactile": None
        if schema.tactile is None
        else {
            "fingers": [f.name for f in schema.tactile.fingers],
            "sources": [f.key for f in schema.tactile.fingers],
            "kinds": schema.tactile.kinds,
            "grid_shape": list(schema.tactile.grid_shape),
            "grid_model": "recorded grid"
            if "force" not in schema.tactile.kinds
            else f"gaussian footprint, sigma={schema.tactile.sigma} pad units (so101_sim.tactile_grid.force_to_grid)",
        },
        "episodes": {o.demo: o.episode_index for o in report.converted},
        "skipped": {o.demo: o.reason for o in report.skipped},
    }
    (root / "meta" / "conversion.json").write_text(json.dumps(info, indent=2) + "\n")


def environment_defaults() -> None:
    """Quieter defaults for a command-line run: SVT-AV1 prints a banner per episode and camera, and the
    ``datasets`` library a progress bar per episode, both of which would bury our own progress bar."""
    os.environ.setdefault("SVT_LOG", "1")
    with contextlib.suppress(Exception):
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()
