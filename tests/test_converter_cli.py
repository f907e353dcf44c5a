"""The documented script as a subprocess: a normal run, and runs interrupted by Ctrl-C, SIGTERM and SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from so101_sim.convert.synthetic import write_demos

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "converters" / "hdf5_to_lerobot.py"


def _env():
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    # long enough (a few seconds of encoding) to be interrupted part-way
    return write_demos(tmp_path_factory.mktemp("src") / "long.hdf5", [60] * 12, image_hw=(96, 128))


def _start(src: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--input", str(src), "--output-dir", str(out), "--repo-id", "local/run", "--task", "Lift the cube.",
         *extra],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_encoded_episode(out: Path, proc: subprocess.Popen, timeout: float = 60.0) -> Path:
    """Wait until the partial dataset holds at least one finished episode video (mid-conversion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        partials = list((out / "local").glob(".run.partial-*"))
        if partials and list(partials[0].glob("videos/*/chunk-000/file-000.mp4")):
            return partials[0]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("conversion never got going")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_nothing(tmp_path, long_file, sig):
    out = tmp_path / "out"
    proc = _start(long_file, out)
    partial = _wait_for_encoded_episode(out, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, -sig), err
    assert not (out / "local/run").exists()
    assert not partial.exists(), "partial directory left behind"


def test_sigkill_leaves_no_dataset_and_next_run_cleans_up(tmp_path, long_file):
    out = tmp_path / "out"
    (out / "local/run").mkdir(parents=True)
    (out / "local/run/old.txt").write_text("previous output")
    proc = _start(long_file, out, "--overwrite")
    partial = _wait_for_encoded_episode(out, proc)
    proc.kill()
    proc.wait(timeout=30)
    assert (out / "local/run/old.txt").read_text() == "previous output"  # untouched
    assert partial.exists()  # SIGKILL cannot clean up, but it is not at the target
    small = write_demos(tmp_path / "small.hdf5", [5, 6], image_hw=(16, 32), successes=[False, True])
    args = [sys.executable, str(SCRIPT), "--input", str(small), "--output-dir", str(out), "--repo-id", "local/run",
            "--task", "Lift the cube."]
    refused = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2 and "already exists; pass --overwrite" in refused.stderr
    assert (out / "local/run/old.txt").exists()
    done = subprocess.run(
        [*args, "--overwrite", "--only-success"], env=_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert not partial.exists()  # the dead run's partial directory was swept
    assert not (out / "local/run/old.txt").exists() and (out / "local/run/meta/info.json").exists()
    assert "Converted 1 demo(s), 6 frames, skipped 1" in done.stdout
    assert "skipped   demo_0: success=False" in done.stdout
    assert f"--dataset.root={out / 'local/run'}" in done.stdout
    assert "converting" in done.stderr  # the tqdm bar over frames
    assert "Svt[info]" not in done.stderr  # encoder banner silenced
