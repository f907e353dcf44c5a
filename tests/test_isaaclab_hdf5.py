import json
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from so101_sim.isaaclab_hdf5 import IsaacLabHDF5Writer, sorted_demo_names


def _steps(n, h=8, w=10):
    for t in range(n):
        obs = {"joint_pos": np.full(6, t, dtype=np.float32), "front": np.full((h, w, 3), t % 256, dtype=np.uint8)}
        yield obs, np.arange(6, dtype=np.float32) + t


def test_layout_matches_isaac_lab_handler(tmp_path):
    path = tmp_path / "demos.hdf5"
    with IsaacLabHDF5Writer(path, env_name="so101_sim/Lift-v0", env_args={"fps": 30}) as w:
        for d, n in enumerate([5, 3000]):  # the second spans several HDF5 chunks of joint data
            assert w.begin_demo(seed=10 + d) == f"demo_{d}"
            for obs, act in _steps(n):
                w.add_step(obs, act)
            w.end_demo(success=(d == 0))
        w.begin_demo()
        w.end_demo()  # no seed, no success
    with h5py.File(path, "r") as f:
        data = f["data"]
        assert data.attrs["total"] == 3005 and data.attrs["total"].dtype == np.int64
        assert json.loads(data.attrs["env_args"]) == {"env_name": "so101_sim/Lift-v0", "type": 2, "fps": 30}
        assert sorted_demo_names(data.keys()) == ["demo_0", "demo_1", "demo_2"]
        d1 = data["demo_1"]
        assert d1.attrs["num_samples"] == 3000 and d1.attrs["num_samples"].dtype == np.int64
        assert d1.attrs["seed"] == 11 and d1.attrs["success"].dtype == np.bool_ and not d1.attrs["success"]
        assert bool(data["demo_0"].attrs["success"])
        assert "seed" not in data["demo_2"].attrs and "success" not in data["demo_2"].attrs
        assert data["demo_2"].attrs["num_samples"] == 0
        assert d1["actions"].shape == (3000, 6) and d1["actions"].dtype == np.float32
        assert d1["actions"].compression == "gzip" and d1["obs/front"].compression == "gzip"
        assert d1["obs/front"].shape == (3000, 8, 10, 3) and d1["obs/front"].dtype == np.uint8
        np.testing.assert_array_equal(d1["obs/joint_pos"][:, 0], np.arange(3000, dtype=np.float32))
        np.testing.assert_array_equal(d1["obs/front"][:, 0, 0, 0], np.arange(3000) % 256)
    assert not list(tmp_path.glob(".*tmp*"))


def test_file_appears_only_on_close(tmp_path):
    path = tmp_path / "demos.hdf5"
    w = IsaacLabHDF5Writer(path)
    w.begin_demo(seed=0)
    for obs, act in _steps(3):
        w.add_step(obs, act)
    w.end_demo(success=True)
    assert not path.exists()
    w.close()
    assert path.exists()


def test_exception_aborts_without_a_file(tmp_path):
    path = tmp_path / "demos.hdf5"
    with pytest.raises(RuntimeError, match="boom"), IsaacLabHDF5Writer(path) as w:
        w.begin_demo()
        for obs, act in _steps(3):
            w.add_step(obs, act)
        raise RuntimeError("boom")
    assert not path.exists() and not list(tmp_path.iterdir())


def test_killed_writer_leaves_no_file_at_target(tmp_path):
    path = tmp_path / "demos.hdf5"
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from so101_sim.isaaclab_hdf5 import IsaacLabHDF5Writer
        w = IsaacLabHDF5Writer({str(path)!r})
        w.begin_demo()
        w.add_step({{"x": np.zeros(3)}}, np.zeros(2))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False, cwd=str(tmp_path), env=_env())
    assert proc.returncode == -9
    assert not path.exists()


def _env():
    import os
    from pathlib import Path

    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_discard_and_refuse_bad_use(tmp_path):
    path = tmp_path / "demos.hdf5"
    with IsaacLabHDF5Writer(path) as w:
        w.begin_demo()
        for obs, act in _steps(4):
            w.add_step(obs, act)
        w.discard_demo()
        assert w.begin_demo() == "demo_0"
        obs, act = next(_steps(1))
        w.add_step(obs, act)
        with pytest.raises(ValueError, match="keys"):
            w.add_step({"joint_pos": obs["joint_pos"]}, act)
        with pytest.raises(ValueError, match="shape"):
            w.add_step({**obs, "joint_pos": np.zeros(7, dtype=np.float32)}, act)
        with pytest.raises(RuntimeError, match="open"):
            w.begin_demo()
        w.end_demo(success=True)
        with pytest.raises(RuntimeError, match="outside a demo"):
            w.add_step(obs, act)
    with h5py.File(path, "r") as f:
        assert list(f["data"].keys()) == ["demo_0"] and f["data"].attrs["total"] == 1
    with pytest.raises(FileExistsError):
        IsaacLabHDF5Writer(path)
    IsaacLabHDF5Writer(path, overwrite=True).close()
    with h5py.File(path, "r") as f:
        assert len(f["data"]) == 0


def test_sorted_demo_names_is_numeric():
    assert sorted_demo_names(["demo_10", "demo_2", "mask", "demo_0", "demo_x"]) == ["demo_0", "demo_2", "demo_10"]
