"""Command line of the converter: ``python converters/hdf5_to_lerobot.py --input demos.hdf5 --output-dir DIR
--repo-id NAME`` writes the LeRobot v3 dataset to ``DIR/NAME``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from so101_sim.convert.converter import ConvertOptions, convert, environment_defaults
from so101_sim.convert.errors import ConversionError
from so101_sim.convert.mapping import DEFAULT_MAPPING, builtin_mappings, load_mapping


def _grid_shape(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in text.lower().replace(",", "x").split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLS such as 10x12, got {text!r}") from exc
    if rows < 1 or cols < 1:
        raise argparse.ArgumentTypeError(f"grid rows and cols must be >= 1, got {text!r}")
    return rows, cols


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hdf5_to_lerobot",
        description="Convert Isaac Lab HDF5 demonstrations (HDF5DatasetFileHandler layout) to a LeRobot v3 "
        "dataset at OUTPUT_DIR/REPO_ID, readable by lerobot-train with --dataset.repo_id=REPO_ID "
        "--dataset.root=OUTPUT_DIR/REPO_ID.",
    )
    p.add_argument("--input", required=True, type=Path, help="Isaac Lab .hdf5 file")
    p.add_argument("--output-dir", required=True, type=Path, help="parent directory of the dataset")
    p.add_argument("--repo-id", required=True, help="dataset name, e.g. local/tactile_pick (also its folder)")
    p.add_argument(
        "--mapping",
        default=DEFAULT_MAPPING,
        help=f"mapping YAML path, or a shipped one: {', '.join(builtin_mappings())} (default: {DEFAULT_MAPPING})",
    )
    p.add_argument("--task", help="task text for every episode (default: from the mapping, else the file's env_args)")
    p.add_argument("--fps", type=int, help="frame rate (default: env_args['fps'] in the file, else the mapping's)")
    p.add_argument("--images", action="store_true", help="store camera frames as PNG images instead of video")
    p.add_argument("--only-success", action="store_true", help="convert only demos with attrs['success'] true")
    p.add_argument(
        "--skip-bad", action="store_true", help="skip unusable demos (listed at the end) instead of stopping"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at OUTPUT_DIR/REPO_ID")
    p.add_argument("--grid-shape", type=_grid_shape, help="synthesised taxel grid ROWSxCOLS (default: mapping, 10x12)")
    p.add_argument("--vcodec", default="libsvtav1", help="video codec: libsvtav1 (default), h264, hevc, auto")
    p.add_argument(
        "--encoder-threads",
        type=int,
        default=None,
        help="threads per camera encoder (default: let the codec use the machine)",
    )
    p.add_argument(
        "--encoder-queue",
        type=int,
        default=None,
        help="frames queued per camera encoder (default: about 64 MiB worth, 30..256)",
    )
    p.add_argument("--image-writer-threads", type=int, default=4, help="PNG writer threads for --images")
    p.add_argument(
        "--block-mb", type=int, default=32, help="memory for one block of camera frames (MiB; two blocks are in flight)"
    )
    p.add_argument(
        "--read-threads", type=int, default=None, help="threads inflating gzip image chunks (default: one per core)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log more (including the encoder library)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        environment_defaults()
    try:
        opts = ConvertOptions(
            input=args.input,
            output_dir=args.output_dir,
            repo_id=args.repo_id,
            mapping=load_mapping(args.mapping),
            task=args.task,
            fps=args.fps,
            use_videos=not args.images,
            only_success=args.only_success,
            skip_bad=args.skip_bad,
            overwrite=args.overwrite,
            grid_shape=args.grid_shape,
            vcodec=args.vcodec,
            encoder_threads=args.encoder_threads,
            encoder_queue=args.encoder_queue,
            image_writer_threads=args.image_writer_threads,
            block_budget_mb=args.block_mb,
            read_threads=args.read_threads,
            progress=not args.no_progress,
        )
        report = convert(opts)
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written to the output path", file=sys.stderr)
        return 130
    print(report.summary())
    print(
        f"Train with: lerobot-train --dataset.repo_id={args.repo_id} --dataset.root={report.output} "
        "--dataset.video_backend=pyav ..."
    )
    return 0
