"""sim -> Isaac Lab HDF5 -> converter -> stock ``lerobot-train`` on real rendered frames (tiny ACT, CPU, offline,
3 steps), with the simulated tactile grids as an input feature."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from so101_sim.convert import ConvertOptions, convert, load_mapping

os.environ.setdefault("MENAGERIE_ROOT", str(Path(__file__).resolve().parents[2] / "shared" / "menagerie"))
pytest.importorskip("so101_sim.mujoco.tactile")

LEROBOT_TRAIN = shutil.which("lerobot-train") or str(Path(sys.executable).with_name("lerobot-train"))


@pytest.mark.skipif(not Path(LEROBOT_TRAIN).exists(), reason="lerobot-train is not installed")
def test_lerobot_train_reads_the_converted_dataset(tmp_path):
    from so101_sim.commands.record_hdf5 import RecordHDF5Options, record_hdf5

    src = tmp_path / "sim.hdf5"
    record_hdf5(RecordHDF5Options(episodes=2, output=src, image_size=64, tactile=True, progress=False))
    convert(
        ConvertOptions(
            input=src,
            output_dir=tmp_path / "data",
            repo_id="local/tactile",
            mapping=load_mapping("so101"),
            progress=False,
        )
    )
    root = tmp_path / "data/local/tactile"
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        WANDB_MODE="disabled",
        HF_HOME=str(tmp_path / "hf"),
        HF_LEROBOT_HOME=str(tmp_path / "hf/lerobot"),
    )
    cmd = [
        LEROBOT_TRAIN,
        "--dataset.repo_id=local/tactile",
        f"--dataset.root={root}",
        "--dataset.video_backend=pyav",
        "--policy.type=act",
        "--policy.device=cpu",
        "--policy.push_to_hub=false",
        "--policy.pretrained_backbone_weights=null",
        "--policy.dim_model=32",
        "--policy.n_heads=2",
        "--policy.dim_feedforward=64",
        "--policy.n_encoder_layers=1",
        "--policy.n_decoder_layers=1",
        "--policy.n_vae_encoder_layers=1",
        "--policy.latent_dim=8",
        "--policy.chunk_size=4",
        "--policy.n_action_steps=4",
        "--steps=3",
        "--batch_size=2",
        "--num_workers=0",
        "--log_freq=1",
        "--save_freq=3",
        "--eval_freq=0",
        "--wandb.enable=false",
        f"--output_dir={tmp_path / 'train'}",
    ]
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ckpt = tmp_path / "train/checkpoints/000003/pretrained_model"
    config = json.loads((ckpt / "config.json").read_text())
    assert config["input_features"]["observation.state"]["shape"] == [6]
    assert config["output_features"]["action"]["shape"] == [6]
    assert config["input_features"]["observation.tactile.force_grid"]["shape"] == [2, 10, 12, 3]
    assert {"observation.images.camera1", "observation.images.camera2", "observation.tactile.force_grid"} <= set(
        config["input_features"]
    )
