"""End to end on real rendered frames: MuJoCo sim -> Isaac Lab HDF5 (record-hdf5) -> converter -> LeRobotDataset."""

import importlib.util
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from so101_sim.adapters import JOINT_NAMES, radians_to_units
from so101_sim.convert import ConvertOptions, convert, load_mapping

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MENAGERIE_ROOT", str(Path(__file__).resolve().parents[2] / "shared" / "menagerie"))
pytest.importorskip("so101_sim.mujoco.env")


def _record(tmp_path, tactile=False):
    from so101_sim.commands.record_hdf5 import RecordHDF5Options, record_hdf5

    out = tmp_path / "sim.hdf5"
    summary = record_hdf5(
        RecordHDF5Options(
            task="Lift-v0", episodes=2, output=out, seed=3, image_size=64, tactile=tactile, progress=False
        )
    )
    assert summary["episodes"] == 2 and summary["successes"] == 2
    return out


def test_sim_hdf5_to_lerobot(tmp_path):
    src = _record(tmp_path)
    with h5py.File(src, "r") as f:
        data = f["data"]
        env_args = json.loads(data.attrs["env_args"])
        assert env_args["env_name"] == "so101_sim/Lift-v0" and env_args["fps"] == 30
        lengths = [int(data[d].attrs["num_samples"]) for d in ("demo_0", "demo_1")]
        assert data.attrs["total"] == sum(lengths) and all(bool(data[d].attrs["success"]) for d in ("demo_0", "demo_1"))
        q = data["demo_1/obs/joint_pos"][()]
        act = data["demo_1/actions"][()]
        front = data["demo_1/obs/front"][()]
        wrist = data["demo_1/obs/wrist"][()]
    assert front.shape[1:] == (64, 64, 3) and front.std() > 5 and wrist.std() > 5  # rendered, not blank

    report = convert(
        ConvertOptions(
            input=src, output_dir=tmp_path / "out", repo_id="local/sim", mapping=load_mapping("so101"), progress=False
        )
    )
    assert [o.frames for o in report.converted] == lengths

    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset("local/sim", root=tmp_path / "out/local/sim", video_backend="pyav")
    assert ds.num_episodes == 2 and len(ds) == sum(lengths) and ds.fps == 30
    assert ds.meta.tasks.index.tolist() == ["Pick up the red cube."]
    assert ds.meta.features["action"]["names"] == [f"{j}.pos" for j in JOINT_NAMES]
    hf = ds.hf_dataset.with_format("numpy")
    ep1 = np.asarray(hf["episode_index"]) == 1
    np.testing.assert_allclose(
        np.stack(hf["observation.state"])[ep1], radians_to_units(q, "lerobot"), rtol=1e-5, atol=1e-4
    )
    np.testing.assert_allclose(np.stack(hf["action"])[ep1], radians_to_units(act, "lerobot"), rtol=1e-5, atol=1e-4)
    t = lengths[1] // 2
    item = ds[lengths[0] + t]
    for key, ref in (("observation.images.camera1", front), ("observation.images.camera2", wrist)):
        img = item[key].numpy().transpose(1, 2, 0) * 255
        assert np.abs(img - ref[t]).mean() < 12, key  # lossy AV1, same frame


@pytest.mark.skipif(
    importlib.util.find_spec("so101_sim.mujoco.tactile") is None, reason="the MuJoCo tactile pads are not there yet"
)
def test_sim_tactile_grids_pass_through(tmp_path):
    src = _record(tmp_path, tactile=True)
    convert(
        ConvertOptions(
            input=src, output_dir=tmp_path / "out", repo_id="local/sim", mapping=load_mapping("so101"), progress=False
        )
    )
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset("local/sim", root=tmp_path / "out/local/sim", video_backend="pyav")
    hf = ds.hf_dataset.with_format("numpy")
    grids = np.stack(hf["observation.tactile.force_grid"])
    with h5py.File(src, "r") as f:
        left = np.concatenate([f[f"data/demo_{i}/obs/tactile_left"][()] for i in range(2)])
    np.testing.assert_array_equal(grids[:, 0], left)
    np.testing.assert_allclose(
        np.stack(hf["observation.tactile.force"])[:, 0], left.sum(axis=(1, 2)), rtol=1e-5, atol=1e-6
    )
