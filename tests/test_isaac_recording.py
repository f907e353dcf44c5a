"""Isaac Lab demo recording: the recorder configuration and the keys it writes match the converter's so101
mapping; a recording made of exactly what those recorder terms record converts to a LeRobot dataset."""

from __future__ import annotations

import numpy as np
from test_isaac_backend import standin  # noqa: F401  (fixture; tests/ is on sys.path)


def _recorded_step(env) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """What Isaac Lab's ActionStateRecorderManagerCfg terms plus ours add under obs/ and actions for one step.

    PreStepFlatPolicyObservationsRecorder records ``("obs", env.obs_buf["policy"])``, PreStepActionsRecorder
    ``("actions", env.action_manager.action)``; the recorder manager flattens a dict value to ``obs/<term>``.
    """
    from so101_sim.isaac.recording import images_recorder_class

    key, images = images_recorder_class()(cfg=None, env=env).record_pre_step()
    assert key == "obs"
    obs = {k: v[0].numpy() for k, v in {**env.obs_buf["policy"], **images}.items()}
    return obs, env.action_manager.action[0].numpy()


def test_recorder_cfg_fields_and_modes(standin):  # noqa: F811
    from so101_sim.isaac.recording import recorder_cfg

    cfg = recorder_cfg("/tmp/demos", "lift", successful_only=True)
    assert cfg.dataset_export_dir_path == "/tmp/demos" and cfg.dataset_filename == "lift"
    assert cfg.dataset_export_mode == standin.DatasetExportMode.EXPORT_SUCCEEDED_ONLY
    assert issubclass(cfg.record_pre_step_images.class_type, standin.RecorderTerm)
    assert not hasattr(recorder_cfg("/tmp/d", images=False), "record_pre_step_images")
    assert recorder_cfg("/tmp/d").dataset_export_mode == standin.DatasetExportMode.EXPORT_ALL


def test_recorded_keys_convert_with_the_so101_mapping(standin, tmp_path):  # noqa: F811

    import isaac_so_arm101
    from so101_sim.convert.cli import main as convert_main
    from so101_sim.convert.mapping import load_mapping
    from so101_sim.isaac.isaaclab_api import il
    from so101_sim.isaaclab_hdf5 import IsaacLabHDF5Writer

    cfg = isaac_so_arm101.make_task_cfg("Isaac-SO-ARM101-Lift-Cube-v0", num_envs=1, image_size=(32, 32))
    cfg.sim.device = "cpu"
    env = il.ManagerBasedRLEnv(cfg=cfg)
    env.reset(seed=0)
    mapping = load_mapping("so101")
    path = tmp_path / "demos.hdf5"
    recorded: list[tuple[np.ndarray, np.ndarray]] = []
    with IsaacLabHDF5Writer(path, env_name="Isaac-SO-ARM101-Lift-Cube-v0", env_args={"fps": 30}) as writer:
        for demo in range(2):
            writer.begin_demo(seed=demo)
            q0 = env.obs_buf["policy"]["joint_pos"].clone()
            for t in range(5):
                action = q0.clone()
                action[:, 0] += 0.05 * (t + 1) * (1 if demo == 0 else -1)
                env.step(action)  # advance first: the recorder records pre-step, i.e. obs of this step's start
                obs, recorded_action = _recorded_step(env)
                if t == 0:
                    missing = [k for k in mapping.keys() if k.split("/", 1)[-1] not in obs and k != "actions"  # noqa: SIM118 (Mapping.keys(), not a dict)
                               and "tactile" not in k]
                    assert missing == [], f"the Isaac recorder does not write {missing}"
                    assert obs["joint_pos"].shape == (6,) and obs["front"].dtype == np.uint8
                writer.add_step(obs, recorded_action)
                recorded.append((obs["joint_pos"].copy(), recorded_action.copy()))
            writer.end_demo(success=demo == 0)
    out = tmp_path / "out"
    rc = convert_main(["--input", str(path), "--output-dir", str(out), "--repo-id", "local/isaac_lift",
                       "--mapping", "so101", "--images", "--no-progress"])
    assert rc == 0
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset("local/isaac_lift", root=out / "local/isaac_lift")
    assert ds.meta.total_episodes == 2 and ds.meta.total_frames == 10
    assert {"observation.images.camera1", "observation.images.camera2"} <= set(ds.meta.features)
    from so101_sim.adapters import radians_to_units

    for k in (0, 4, 7):
        item = ds[k]
        q, a = recorded[k]
        # joint positions and absolute joint targets arrive in LeRobot units (degrees, gripper 0..100)
        np.testing.assert_allclose(item["observation.state"].numpy(), radians_to_units(q, "lerobot"), atol=1e-3)
        np.testing.assert_allclose(item["action"].numpy(), radians_to_units(a, "lerobot"), atol=1e-3)
        assert item["observation.images.camera1"].shape == (3, 32, 32)
