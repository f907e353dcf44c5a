"""End to end on real rendered frames: MuJoCo sim -> Isaac Lab HDF5 (record-hdf5) -> converter -> LeRobotDataset,
and the policy features stock ``lerobot-train`` builds from it (the train run itself is proven on a converted
dataset by tests/test_smolvla_tactile.py). One recording (with tactile grids) and one conversion serve all."""

import json

import h5py
import numpy as np
import pytest

from so101_sim.adapters import JOINT_NAMES, radians_to_units
from so101_sim.convert import ConvertOptions, convert, load_mapping


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from so101_sim.commands.record_hdf5 import RecordHDF5Options, record_hdf5

    tmp = tmp_path_factory.mktemp("sim")
    src = tmp / "sim.hdf5"
    summary = record_hdf5(
        RecordHDF5Options(task="Lift-v0", episodes=2, output=src, seed=3, image_size=64, tactile=True, progress=False)
    )
    assert summary["episodes"] == 2 and summary["successes"] == 2
    report = convert(
        ConvertOptions(input=src, output_dir=tmp / "out", repo_id="local/sim", mapping=load_mapping("so101"),
                       progress=False)
    )  # fmt: skip
    return src, report, tmp / "out/local/sim"


def _dataset(root):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset("local/sim", root=root, video_backend="pyav")


def test_sim_hdf5_to_lerobot(converted):
    src, report, root = converted
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

    assert [o.frames for o in report.converted] == lengths
    assert report.fps == 30 and report.fps_source.startswith("the file's env_args")
    ds = _dataset(root)
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


def test_sim_tactile_grids_pass_through(converted):
    src, _, root = converted
    ds = _dataset(root)
    hf = ds.hf_dataset.with_format("numpy")
    grids = np.stack(hf["observation.tactile.force_grid"])
    with h5py.File(src, "r") as f:
        left = np.concatenate([f[f"data/demo_{i}/obs/tactile_left"][()] for i in range(2)])
    np.testing.assert_array_equal(grids[:, 0], left)
    np.testing.assert_allclose(
        np.stack(hf["observation.tactile.force"])[:, 0], left.sum(axis=(1, 2)), rtol=1e-5, atol=1e-6
    )


def test_lerobot_train_policy_features_of_the_converted_dataset(converted):
    """What stock lerobot-train makes of the dataset's features (its own function), with the tactile grid."""
    from lerobot.configs.types import FeatureType

    from so101_sim.lerobot.compat import feature_utils

    features = feature_utils().dataset_to_policy_features(_dataset(converted[2]).meta.features)
    assert features["observation.state"].shape == (6,) and features["action"].shape == (6,)
    assert features["action"].type is FeatureType.ACTION
    assert features["observation.tactile.force_grid"].shape == (2, 10, 12, 3)
    assert features["observation.images.camera1"].type is FeatureType.VISUAL
    assert features["observation.images.camera2"].shape == (3, 64, 64)
