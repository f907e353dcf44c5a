"""The HDF5 -> LeRobot v3 converter on small deterministic files in Isaac Lab's layout (real lerobot, real files)."""

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from so101_sim.adapters import JOINT_NAMES, radians_to_units
from so101_sim.convert import ConversionError, ConvertOptions, convert, load_mapping
from so101_sim.convert.cli import main as cli_main
from so101_sim.convert.synthetic import franka_step, so101_step, write_demos
from so101_sim.tactile_grid import force_to_grid

HW = (24, 32)
FRANKA_TASK = "Lift the cube."  # Isaac Lab's Franka files name only their gym id: the instruction is --task


def _load(root: Path, repo_id="local/demo"):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset(repo_id, root=root, video_backend="pyav")


def _opts(tmp_path, src, **kw):
    if "mapping" not in kw:
        kw.update(mapping=load_mapping("franka_tactile"), task=kw.get("task", FRANKA_TASK))
    return ConvertOptions(input=src, output_dir=tmp_path / "out", repo_id="local/demo", progress=False, **kw)


@pytest.fixture(scope="module")
def franka_file(tmp_path_factory):
    return write_demos(
        tmp_path_factory.mktemp("src") / "demos.hdf5", [12, 9, 15], image_hw=HW, successes=[True, False, True]
    )


@pytest.fixture(scope="module")
def franka_dataset(tmp_path_factory, franka_file):
    out = tmp_path_factory.mktemp("conv")
    opts = ConvertOptions(
        input=franka_file, output_dir=out, repo_id="local/demo", mapping=load_mapping("franka_tactile"), progress=False,
        task=FRANKA_TASK,
    )
    report = convert(opts)
    return report, out / "local/demo"


def test_default_mapping_layout_and_metadata(franka_dataset):
    report, root = franka_dataset
    assert report.output == root and [o.frames for o in report.converted] == [12, 9, 15]
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == 3 and info["total_frames"] == 36
    assert info["robot_type"] == "franka_panda" and info["fps"] == 30
    feats = info["features"]
    # sizes from the file: 9 + 9 + 2 + 3 + 4 joint/gripper/ee dims
    assert feats["observation.state"]["shape"] == [27]
    names = feats["observation.state"]["names"]
    assert names[:2] == ["joint_pos.0", "joint_pos.1"] and names[9] == "joint_vel.0"
    assert names[18:20] == ["gripper_pos.0", "gripper_pos.1"] and names[-4:] == [
        "ee_quat.w",
        "ee_quat.x",
        "ee_quat.y",
        "ee_quat.z",
    ]
    assert feats["action"]["shape"] == [7]
    assert feats["observation.images.camera1"]["dtype"] == "video"
    assert feats["observation.images.camera1"]["shape"] == [24, 32, 3]
    assert feats["observation.tactile.force_grid"]["shape"] == [2, 10, 12, 3]
    assert feats["observation.tactile.force"]["shape"] == [2, 3]
    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.array(stats["observation.tactile.force_grid"]["mean"]).shape == (3,)
    assert np.array(stats["observation.state"]["std"]).shape == (27,)
    assert np.array(stats["observation.images.camera2"]["mean"]).shape == (3, 1, 1)
    prov = json.loads((root / "meta/conversion.json").read_text())
    assert prov["episodes"] == {"demo_0": 0, "demo_1": 1, "demo_2": 2}
    assert prov["tactile"]["fingers"] == ["left", "right"]
    assert not list(root.parent.glob(".*partial*"))


def test_values_round_trip(franka_dataset, franka_file):
    _, root = franka_dataset
    ds = _load(root)
    assert len(ds) == 36 and ds.num_episodes == 3
    assert ds.meta.tasks.index.tolist() == [FRANKA_TASK]
    hf = ds.hf_dataset.with_format("numpy")
    ep = np.asarray(hf["episode_index"])
    assert np.bincount(ep).tolist() == [12, 9, 15]
    with h5py.File(franka_file, "r") as f:
        demo = f["data/demo_1"]
        obs = demo["obs"]
        state = np.concatenate([obs[k][()] for k in ("joint_pos", "joint_vel", "gripper_pos", "ee_pos", "ee_quat")], 1)
        forces = np.stack([obs["force_geometric_left"][()], obs["force_geometric_right"][()]], 1)
        np.testing.assert_allclose(np.stack(hf["observation.state"])[ep == 1], state, rtol=1e-6)
        np.testing.assert_allclose(np.stack(hf["action"])[ep == 1], demo["actions"][()], rtol=1e-6)
        np.testing.assert_allclose(np.stack(hf["observation.tactile.force"])[ep == 1], forces, rtol=1e-6)
        grids = np.stack(hf["observation.tactile.force_grid"])[ep == 1]
        np.testing.assert_allclose(grids, force_to_grid(forces), rtol=1e-6)
        np.testing.assert_allclose(grids.sum(axis=(2, 3)), forces, rtol=1e-4, atol=1e-5)  # each finger sums back
        table = obs["rgb_table"][()]
    item = ds[12 + 4]  # demo_1, frame 4 (decoded from the AV1 video)
    assert int(item["frame_index"]) == 4 and int(item["episode_index"]) == 1
    decoded = (item["observation.images.camera1"].numpy().transpose(1, 2, 0) * 255).astype(np.float64)
    errs = [np.abs(decoded - table[t]).mean() for t in range(len(table))]
    assert int(np.argmin(errs)) == 4 and errs[4] < 20  # the right frame, lossy but close


def test_only_success_and_summary(tmp_path, franka_file, capsys):
    rc = cli_main(
        [
            "--input",
            str(franka_file),
            "--output-dir",
            str(tmp_path / "out"),
            "--repo-id",
            "local/demo",
            "--only-success",
            "--no-progress",
            "--task",
            "pick the cube",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "Converted 2 demo(s), 27 frames, skipped 1" in out
    assert "skipped   demo_1: success=False" in out and "converted demo_2 -> episode 1" in out
    assert "Frame rate: 30 fps, from the mapping's fps" in out  # the file has no env_args['fps']
    ds = _load(tmp_path / "out/local/demo")
    assert ds.num_episodes == 2 and ds.meta.tasks.index.tolist() == ["pick the cube"]


def test_images_mode_and_grid_option(tmp_path, franka_file):
    convert(_opts(tmp_path, franka_file, use_videos=False, grid_shape=(4, 5)))
    ds = _load(tmp_path / "out/local/demo")
    assert ds.meta.features["observation.images.camera2"]["dtype"] == "image"
    item = ds[3]
    assert item["observation.tactile.force_grid"].shape == (2, 4, 5, 3)
    with h5py.File(franka_file, "r") as f:
        np.testing.assert_array_equal(
            (item["observation.images.camera2"].numpy().transpose(1, 2, 0) * 255).round(),
            f["data/demo_0/obs/rgb_wrist"][3],
        )  # PNG: lossless


def test_so101_mapping_converts_units_and_keeps_recorded_grids(tmp_path):
    src = write_demos(
        tmp_path / "so101.hdf5",
        [10, 8],
        layout="so101",
        image_hw=HW,
        env_name="so101_sim/Lift-v0",
        env_args={"fps": 15, "task": "lift the red cube"},
    )
    report = convert(_opts(tmp_path, src, mapping=load_mapping("so101")))
    assert report.fps == 15
    ds = _load(tmp_path / "out/local/demo")
    assert ds.fps == 15 and ds.meta.robot_type == "so101_follower"
    assert ds.meta.tasks.index.tolist() == ["lift the red cube"]
    assert ds.meta.features["observation.state"]["names"] == [f"{j}.pos" for j in JOINT_NAMES]
    assert set(ds.meta.video_keys) == {"observation.images.camera1", "observation.images.camera2"}
    hf = ds.hf_dataset.with_format("numpy")
    with h5py.File(src, "r") as f:
        q = f["data/demo_0/obs/joint_pos"][()]
        act = f["data/demo_0/actions"][()]
        grid = f["data/demo_0/obs/tactile_right"][()]
    np.testing.assert_allclose(np.stack(hf["observation.state"])[:10], radians_to_units(q, "lerobot"), rtol=1e-5)
    np.testing.assert_allclose(np.stack(hf["action"])[:10], radians_to_units(act, "lerobot"), rtol=1e-5)
    grids = np.stack(hf["observation.tactile.force_grid"])[:10]
    np.testing.assert_array_equal(grids[:, 1], grid)
    np.testing.assert_allclose(np.stack(hf["observation.tactile.force"])[:10, 1], grid.sum(axis=(1, 2)), rtol=1e-6)


def test_so101_without_tactile_keys(tmp_path):
    src = write_demos(
        tmp_path / "so101.hdf5",
        [6, 5],
        image_hw=HW,
        env_name="so101_sim/Lift-v0",
        step_fn=lambda d, t: so101_step(d, t, HW, tactile=False),
    )
    convert(_opts(tmp_path, src, mapping=load_mapping("so101")))
    ds = _load(tmp_path / "out/local/demo")
    assert not any(k.startswith("observation.tactile") for k in ds.meta.features)
    assert ds.meta.tasks.index.tolist() == ["Pick up the red cube."]  # the instruction of so101_sim/Lift-v0


def test_a_gym_id_is_never_the_instruction(tmp_path, franka_file):
    """Isaac Lab files carry only env_name: converting without --task must stop, not label every frame with
    'Isaac-Lift-Cube-Franka-Tactile-v0'. This project's own ids map to their documented instructions."""
    from so101_sim.convert.converter import resolve_task

    with pytest.raises(ConversionError, match=r"gym id 'Isaac-Lift-Cube-Franka-Tactile-v0'.*pass --task") as exc:
        convert(_opts(tmp_path, franka_file, task=None))
    assert str(franka_file) in str(exc.value) and not (tmp_path / "out/local/demo").exists()
    opts = _opts(tmp_path, franka_file, task=None)
    assert resolve_task(opts, {"env_name": "Isaac-SO-ARM101-Lift-Cube-v0"}) == "Pick up the red cube."
    assert resolve_task(opts, {"env_name": "so101_sim/PickPlace-v0"}) == "Put the red cube in the green zone."
    assert resolve_task(opts, {"env_name": "so101_sim/Lift-v0", "task": "lift it"}) == "lift it"
    with pytest.raises(ConversionError, match="neither 'task' nor 'env_name'"):
        resolve_task(opts, {})


def test_frame_rate_comes_from_a_named_source_or_the_run_stops(tmp_path, franka_file, caplog):
    from so101_sim.convert.converter import resolve_fps
    from so101_sim.convert.mapping import parse_mapping

    shipped = _opts(tmp_path, franka_file)  # franka_tactile.yaml declares fps: 30
    assert resolve_fps(_opts(tmp_path, franka_file, fps=12), {"fps": 15}) == (12, "--fps")
    assert resolve_fps(shipped, {"fps": 15.0})[0] == 15
    assert "env_args['fps']" in resolve_fps(shipped, {"fps": 15.0})[1]
    with caplog.at_level("WARNING", logger="so101_sim.convert.converter"):
        fps, source = resolve_fps(shipped, {})
    assert fps == 30 and "franka_tactile.yaml" in source and "records no frame rate" in caplog.text
    silent = parse_mapping({"state": ["obs/a"], "action": ["actions"]}, "no_fps.yaml")
    assert silent.fps is None
    with pytest.raises(ConversionError, match="no frame rate.*no_fps.yaml.*pass --fps"):
        resolve_fps(_opts(tmp_path, franka_file, mapping=silent), {})
    with pytest.raises(ConversionError, match="must be positive"):
        resolve_fps(shipped, {"fps": 0})


def test_existing_output_is_refused_then_replaced_with_overwrite(tmp_path, franka_file):
    target = tmp_path / "out/local/demo"
    target.mkdir(parents=True)
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="already exists"):
        convert(_opts(tmp_path, franka_file))
    assert (target / "keep.txt").read_text() == "mine" and sorted(p.name for p in target.parent.iterdir()) == ["demo"]
    assert (
        cli_main(
            [
                "--input",
                str(franka_file),
                "--output-dir",
                str(tmp_path / "out"),
                "--repo-id",
                "local/demo",
                "--no-progress",
                "--task",
                FRANKA_TASK,
            ]
        )
        == 2
    )
    convert(_opts(tmp_path, franka_file, overwrite=True))
    assert not (target / "keep.txt").exists() and _load(target).num_episodes == 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["demo"]  # no partial or replaced leftovers


# ------------------------------------------------------------------------------------------------------------
# Bad input: every case names file, demo, key and expected vs found; --skip-bad converts the rest.


def _corrupt(path: Path, demo: str, edit) -> None:
    with h5py.File(path, "r+") as f:
        edit(f["data"][demo])


def _replace(group, key, value):
    del group[key]
    group.create_dataset(key, data=value, compression="gzip")


BAD_CASES = {
    "missing_key": (lambda g: g.__delitem__("obs/ee_pos"), ["'obs/ee_pos'", "missing", "joint_pos"]),
    "obs_shorter_than_actions": (
        lambda g: _replace(g, "obs/joint_vel", g["obs/joint_vel"][:-2]),
        ["'obs/joint_vel'", "length mismatch", "expected 9 rows, found 7 rows"],
    ),
    "num_samples_disagrees": (
        lambda g: g.attrs.__setitem__("num_samples", np.int64(11)),
        ["'actions'", "num_samples", "expected 11 rows, found 9 rows"],
    ),
    "nan": (
        lambda g: g["obs/joint_pos"].__setitem__((3, 2), np.nan),
        ["'obs/joint_pos'", "NaN or inf", "first at frame 3"],
    ),
    "inf_in_tactile": (
        lambda g: g["obs/force_geometric_right"].__setitem__((5, 0), np.inf),
        ["'obs/force_geometric_right'", "NaN or inf", "frame 5"],
    ),
    "float_images": (
        lambda g: _replace(g, "obs/rgb_wrist", g["obs/rgb_wrist"][()].astype(np.float32)),
        ["'obs/rgb_wrist'", "expected (T, 24, 32, 3) uint8", "found (9, 24, 32, 3) float32"],
    ),
    "image_size_differs": (
        lambda g: _replace(g, "obs/rgb_table", g["obs/rgb_table"][:, :12, :16]),
        ["'obs/rgb_table'", "expected (T, 24, 32, 3) uint8", "found (T, 12, 16, 3) uint8"],
    ),
    "grayscale_images": (
        lambda g: _replace(g, "obs/rgb_table", g["obs/rgb_table"][..., 0]),
        ["'obs/rgb_table'", "found (9, 24, 32) uint8"],
    ),
    "empty_demo": (
        lambda g: [_replace(g, k, g[k][:0]) for k in list(_all_datasets(g))] and g.attrs.__setitem__("num_samples", 0),
        ["empty demo"],
    ),
    "action_width_differs": (
        lambda g: _replace(g, "actions", np.zeros((9, 8), np.float32)),
        ["'actions'", "expected (T, 7), found (T, 8)"],
    ),
}


def _all_datasets(group):
    out = []
    group.visititems(lambda name, obj: out.append(name) if isinstance(obj, h5py.Dataset) else None)
    return out


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_demo_is_reported_and_skippable(tmp_path, franka_file, case):
    edit, fragments = BAD_CASES[case]
    src = tmp_path / "bad.hdf5"
    shutil.copy(franka_file, src)
    _corrupt(src, "demo_1", edit)
    with pytest.raises(ConversionError) as exc:
        convert(_opts(tmp_path, src))
    msg = str(exc.value)
    assert msg.startswith(f"{src}: demo_1: "), msg
    for fragment in fragments:
        assert fragment in msg, msg
    assert not (tmp_path / "out/local/demo").exists() and not list((tmp_path / "out").rglob("*partial*"))
    if case == "grayscale_images":  # --skip-bad: one conversion is enough to prove the rest goes through
        report = convert(_opts(tmp_path, src, skip_bad=True))
        assert [o.demo for o in report.converted] == ["demo_0", "demo_2"]
        assert report.skipped[0].demo == "demo_1" and "obs/rgb_table" in report.skipped[0].reason
        assert "skipped   demo_1: 'obs/rgb_table'" in report.summary()
        assert _load(tmp_path / "out/local/demo").num_episodes == 2


def test_first_demo_bad_with_skip_bad_takes_schema_from_next(tmp_path, franka_file):
    src = tmp_path / "bad.hdf5"
    shutil.copy(franka_file, src)
    _corrupt(src, "demo_0", lambda g: g.__delitem__("obs/rgb_wrist"))
    report = convert(_opts(tmp_path, src, skip_bad=True))
    assert [o.demo for o in report.converted] == ["demo_1", "demo_2"]


def test_corrupt_image_chunk_found_while_writing_is_skippable(tmp_path, franka_file):
    """Damage inside compressed image data is only seen when the frames are read."""
    src = tmp_path / "bad.hdf5"
    shutil.copy(franka_file, src)
    with h5py.File(src, "r") as f:
        ds = f["data/demo_1/obs/rgb_table"]
        offset, size = ds.id.get_chunk_info(0).byte_offset, ds.id.get_chunk_info(0).size
    with open(src, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\x00" * size)
    with pytest.raises(ConversionError, match=r"demo_1: 'obs/rgb_table': unreadable data"):
        convert(_opts(tmp_path, src))
    assert not (tmp_path / "out/local/demo").exists()
    report = convert(_opts(tmp_path, src, skip_bad=True))
    assert [o.demo for o in report.converted] == ["demo_0", "demo_2"]
    ds = _load(tmp_path / "out/local/demo")
    assert ds.num_episodes == 2 and len(ds) == 27
    ds[len(ds) - 1]  # the last frame of the last video decodes


def test_truncated_and_non_hdf5_files(tmp_path, franka_file):
    truncated = tmp_path / "truncated.hdf5"
    data = franka_file.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionError, match=r"truncated\.hdf5: not a readable HDF5 file \(truncated"):
        convert(_opts(tmp_path, truncated, skip_bad=True))
    text = tmp_path / "notes.hdf5"
    text.write_text("not hdf5\n")
    with pytest.raises(ConversionError, match=r"notes\.hdf5: not a readable HDF5 file"):
        convert(_opts(tmp_path, text))
    other = tmp_path / "other.hdf5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=[1])
    with pytest.raises(ConversionError, match=r"no 'data' group.*\['x'\]"):
        convert(_opts(tmp_path, other))
    with pytest.raises(ConversionError, match="input file not found"):
        convert(_opts(tmp_path, tmp_path / "missing.hdf5"))
    assert not (tmp_path / "out").exists()


def test_frames_too_small_for_the_default_codec(tmp_path):
    src = write_demos(tmp_path / "tiny.hdf5", [3, 3], image_hw=(16, 16))
    with pytest.raises(ConversionError, match=r"'obs/rgb_table' frames are 16x16; libsvtav1 needs at least 8x32"):
        convert(_opts(tmp_path, src))
    assert not (tmp_path / "out/local/demo").exists()
    convert(_opts(tmp_path, src, use_videos=False))


def test_all_demos_bad_writes_nothing(tmp_path, franka_file):
    src = tmp_path / "bad.hdf5"
    shutil.copy(franka_file, src)
    for d in ("demo_0", "demo_1", "demo_2"):
        _corrupt(src, d, lambda g: g.__delitem__("actions"))
    with pytest.raises(ConversionError, match="no demo to convert") as exc:
        convert(_opts(tmp_path, src, skip_bad=True))
    assert "skipped   demo_2: 'actions': missing" in str(exc.value)
    assert not (tmp_path / "out/local/demo").exists()


def test_mapping_errors(tmp_path):
    from so101_sim.convert import parse_mapping

    with pytest.raises(ConversionError, match="neither a file nor a shipped mapping"):
        load_mapping("nope")
    with pytest.raises(ConversionError, match="needs both 'state' and 'action'"):
        parse_mapping({"state": ["obs/a"]})
    with pytest.raises(ConversionError, match="unknown top-level fields"):
        parse_mapping({"state": ["obs/a"], "action": ["actions"], "camera": {}})
    with pytest.raises(ConversionError, match="units must be one of"):
        parse_mapping({"state": ["obs/a"], "action": ["actions"], "units": "furlongs"})
    bad = tmp_path / "m.yaml"
    bad.write_text("state: [obs/a\n")
    with pytest.raises(ConversionError, match="not valid YAML"):
        load_mapping(bad)


def test_custom_mapping_file(tmp_path):
    """A layout described only in YAML: different keys, an extra vector feature, no tactile."""
    src = write_demos(
        tmp_path / "d.hdf5", [5, 4], image_hw=HW, env_name="Custom-v0", step_fn=lambda d, t: franka_step(d, t, HW)
    )
    mapping = tmp_path / "custom.yaml"
    mapping.write_text(
        "name: custom\nfps: 10\nstate: [obs/ee_pos, obs/ee_quat]\naction: [actions]\n"
        "vectors:\n  observation.environment_state: [obs/force_geometric_left]\n"
        "cameras:\n  top: obs/rgb_table\n"
    )
    convert(_opts(tmp_path, src, mapping=load_mapping(mapping), task="Move the cube."))
    ds = _load(tmp_path / "out/local/demo")
    assert ds.fps == 10 and ds.meta.features["observation.state"]["shape"] == (7,)
    assert ds.meta.features["observation.environment_state"]["names"] == [f"force_geometric_left.{i}" for i in range(3)]
    assert ds.meta.video_keys == ["observation.images.top"]


def test_tiny_encoder_queue_loses_no_frame(tmp_path):
    """lerobot's streaming encoder drops frames when its queue stays full; back-pressure must prevent that
    (the converter also re-checks every episode's video length against num_samples)."""
    src = write_demos(tmp_path / "d.hdf5", [40, 30], image_hw=(48, 64))
    convert(_opts(tmp_path, src, encoder_queue=2))
    ds = _load(tmp_path / "out/local/demo")
    eps = ds.meta.episodes
    for key in ds.meta.video_keys:
        durations = np.array(eps[f"videos/{key}/to_timestamp"]) - np.array(eps[f"videos/{key}/from_timestamp"])
        np.testing.assert_allclose(durations * ds.fps, [40, 30], atol=1e-3)
    ds[69]  # the last frame decodes


def test_block_reader_matches_h5py_on_isaac_lab_auto_chunks(tmp_path):
    """Isaac Lab writes ``create_dataset(data=..., compression="gzip")``: h5py picks chunks that span several
    frames and only part of each image. The parallel inflater must reassemble exactly what h5py reads."""
    from concurrent.futures import ThreadPoolExecutor

    from so101_sim.convert.source import BlockReader, SourceFile

    rng = np.random.default_rng(0)
    video = rng.integers(0, 255, size=(37, 50, 70, 3), dtype=np.uint8)
    path = tmp_path / "auto.hdf5"
    with h5py.File(path, "w") as f:
        f.create_group("data/demo_0/obs")
        ds = f["data/demo_0/obs"].create_dataset("cam", data=video, compression="gzip")
        f["data/demo_0/obs"].create_dataset("raw", data=video)  # no filter: read through h5py
        f["data/demo_0/obs"].create_dataset("shuffled", data=video, compression="gzip", shuffle=True)
        chunks = ds.chunks
    assert chunks[0] > 1 and (chunks[1] < 50 or chunks[2] < 70)  # multi-frame, partial-image chunks
    src = SourceFile(path)
    with ThreadPoolExecutor(2) as pool:
        reader = BlockReader(src, pool)
        for key in ("cam", "raw", "shuffled"):
            for b0, b1 in [(0, 37), (0, 1), (5, 18), (chunks[0] - 1, chunks[0] + 1), (36, 37)]:
                np.testing.assert_array_equal(reader.submit("demo_0", f"obs/{key}", b0, b1)(), video[b0:b1])
    src.close()


def test_video_frame_shortfall_reads_real_episode_metadata(tmp_path):
    """The frame-count check shared by the converter and record-demos, on an episode lerobot just encoded."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from so101_sim.convert.converter import video_frame_shortfall

    features = {"observation.images.cam": {"dtype": "video", "shape": (32, 64, 3), "names": ["h", "w", "c"]},
                "action": {"dtype": "float32", "shape": (1,), "names": ["a"]}}  # fmt: skip
    ds = LeRobotDataset.create("local/check", fps=10, features=features, root=tmp_path / "ds", streaming_encoding=True)
    try:
        for t in range(7):
            ds.add_frame({"observation.images.cam": np.full((32, 64, 3), 20 * t, np.uint8),
                          "action": np.zeros(1, np.float32), "task": "t"})  # fmt: skip
        ds.save_episode()
        assert video_frame_shortfall(ds, ["observation.images.cam"], 7, 10) == []
        assert video_frame_shortfall(ds, ["observation.images.cam"], 8, 10) == [
            "the video of 'observation.images.cam' holds 7 frames, expected 8"
        ]
        assert "no timestamps for 'observation.images.other'" in video_frame_shortfall(
            ds, ["observation.images.other"], 7, 10
        )[0]
    finally:
        ds.finalize()
