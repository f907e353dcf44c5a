"""Make ``docs/images/teleop_keyboard_strip.png``: frames of a keyboard episode recorded with stock lerobot-record.

The episode is driven by ``so101_keyboard`` replaying ``docs/teleop_keyboard_pick.json`` (the keys a person
would press to pick up the cube of ``LiftFixed-v0``), recorded to a LeRobot dataset in a temporary folder; five
frames of its side camera are decoded from the dataset's video and put side by side.

    MENAGERIE_ROOT=../shared/menagerie python docs/teleop_strip.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parent
SCRIPT = DOCS / "teleop_keyboard_pick.json"
OUT = DOCS / "images" / "teleop_keyboard_strip.png"
FPS = 15
TIMES_S = (0.0, 1.1, 2.3, 3.0, 3.9)  # open, above the cube, closed on it, lifting, lifted
HEIGHT, WIDTH = 180, 240


def record(root: Path) -> None:
    seconds = sum(s for _, s in json.loads(SCRIPT.read_text())) + 1.0
    cmd = [
        shutil.which("lerobot-record") or "lerobot-record", "--robot.type=so101_sim", "--robot.task=LiftFixed-v0",
        "--robot.cameras=[camera3]", f"--robot.image_height={HEIGHT}", f"--robot.image_width={WIDTH}",
        "--robot.render_preset=fast", "--robot.real_time=false", f"--robot.fps={FPS}",
        "--teleop.type=so101_keyboard", f"--teleop.key_script={SCRIPT}", "--dataset.repo_id=local/teleop_strip",
        f"--dataset.root={root}", f"--dataset.fps={FPS}", "--dataset.num_episodes=1",
        f"--dataset.episode_time_s={4 * seconds:.1f}", "--dataset.reset_time_s=0",
        "--dataset.single_task=Pick up the red cube.", "--dataset.push_to_hub=false", "--display_data=false",
        "--play_sounds=false",
    ]  # fmt: skip
    subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def main() -> int:
    import imageio.v3 as iio
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        record(root)
        ds = LeRobotDataset("local/teleop_strip", root=root, video_backend="pyav")
        needed = round(max(TIMES_S) * FPS) + 1
        if len(ds) < needed:
            raise SystemExit(
                f"only {len(ds)} frames were recorded ({needed} needed): lerobot-record's episode is wall-clock "
                "time and this machine renders slower than the rate; raise the episode time in record()"
            )
        frames = []
        for t in TIMES_S:
            img = ds[round(t * FPS)]["observation.images.camera3"].numpy()  # (3, H, W) float
            frames.append((np.transpose(img, (1, 2, 0)) * 255).round().astype(np.uint8))
    gap = np.full((HEIGHT, 4, 3), 255, np.uint8)
    strip = np.concatenate([x for f in frames for x in (f, gap)][:-1], axis=1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = OUT.with_suffix(".tmp.png")
    iio.imwrite(tmp_out, strip, optimize=True)
    tmp_out.replace(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB, {strip.shape[1]}x{strip.shape[0]})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
