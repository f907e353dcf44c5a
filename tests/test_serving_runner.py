"""``so101-sim run``: the same policy in-process and over the protocol gives the same episodes (real MuJoCo,
real LeRobot policies, a real server on loopback)."""

from __future__ import annotations

import contextlib
import json
import socket

import pytest

pytest.importorskip("torch")

from so101_sim.cli import main
from so101_sim.serving import PolicyServer, PolicyService
from so101_sim.serving.lerobot_policy import load_policy


def _scripted_or_skip() -> None:
    try:
        from lerobot.configs.policies import PreTrainedConfig

        import so101_sim.lerobot  # noqa: F401

        PreTrainedConfig.get_choice_class("so101_scripted")
    except Exception as e:  # noqa: BLE001 - the registration may not be in this checkout
        pytest.skip(f"so101_scripted policy type not available: {e}")


@contextlib.contextmanager
def served(policy, mapping=None):
    from so101_sim.serving import ProtocolMapping

    server = PolicyServer(PolicyService(policy, mapping or ProtocolMapping()), "127.0.0.1", 0)
    thread = server.start_thread()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=10)
        assert not thread.is_alive()


def _run(capsys, *argv: str) -> tuple[dict, list[str]]:
    assert main(["run", *argv]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    table = [line for line in out if line.strip() and line.split()[0].isdigit()]
    return summary, table


def test_runner_over_the_server_matches_in_process_for_the_scripted_policy(capsys):
    _scripted_or_skip()
    common = ["--task", "Lift-v0", "--episodes", "3", "--num_envs", "2", "--headless", "--seed", "5"]
    local, local_rows = _run(capsys, "--policy", "so101_scripted", "--device", "cpu", *common)
    with served(load_policy(policy_type="so101_scripted", cameras=[])) as server:
        remote, remote_rows = _run(capsys, "--server", f"127.0.0.1:{server.port}", *common)
    assert local["episodes"] == remote["episodes"] == 3
    assert local["success_rate"] == remote["success_rate"]
    assert local["success_rate"] >= 2 / 3  # the expert lifts the cube (100/100 in the core's own tests)
    assert local_rows == remote_rows  # same seeds, same actions: identical episodes step for step
    assert [r.split()[1] for r in local_rows] == ["5", "6", "7"]
    # The env in radians, the policy in LeRobot units: state and actions converted by the shared adapters.
    converted, converted_rows = _run(
        capsys, "--policy", "so101_scripted", "--device", "cpu", "--units", "radians", "--policy-units", "lerobot",
        *common,
    )  # fmt: skip
    assert converted["success_rate"] == local["success_rate"]
    assert [r.split()[:4] for r in converted_rows] == [r.split()[:4] for r in local_rows]


def test_runner_with_a_camera_policy_mapping_horizon_and_video(tmp_path, capsys):
    """A tiny ACT over the protocol: cameras renamed by the mapping, rendered at the policy's resolution."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    from so101_sim.serving.lerobot_policy import LeRobotChunkPolicy

    cfg = ACTConfig(
        device="cpu", chunk_size=4, n_action_steps=4, dim_model=16, n_heads=2, dim_feedforward=32,
        n_encoder_layers=1, n_decoder_layers=1, use_vae=False, pretrained_backbone_weights=None,
        input_features={
            "observation.images.front": PolicyFeature(FeatureType.VISUAL, (3, 40, 48)),
            "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
        },
        output_features={"action": PolicyFeature(FeatureType.ACTION, (6,))},
    )  # fmt: skip
    policy = ACTPolicy(cfg)
    pre, post = make_pre_post_processors(cfg, dataset_stats=None)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("video: {front: camera1}\n")
    video = tmp_path / "out" / "run.mp4"
    with served(LeRobotChunkPolicy(policy, pre, post)) as server:
        summary, rows = _run(
            capsys, "--server", f"127.0.0.1:{server.port}", "--mapping", str(mapping), "--episodes", "1",
            "--max_steps", "6", "--action_horizon", "2", "--headless", "--video", str(video),
        )  # fmt: skip
        assert server.requests_served >= 3 + 3  # ping/features/config/reset... + one get_action per 2 steps
    assert summary["episodes"] == 1 and rows[0].split()[3] == "6"  # truncated at --max_steps
    import imageio.v3 as iio

    frames = iio.imread(video)
    assert frames.shape[0] == 6 and frames.shape[1:] == (40, 48, 3)
    assert frames.std() > 1.0  # a rendered scene, not a blank image


def test_runner_reports_a_missing_server_quickly(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SystemExit, match=f"no policy server answers at 127.0.0.1:{port}"):
        main(["run", "--server", f"127.0.0.1:{port}", "--timeout-ms", "300", "--episodes", "1"])


def test_runner_names_mismatches_before_running(tmp_path, capsys):
    _scripted_or_skip()
    # The server expects 'single_arm' 4 + 'gripper' 2: a 6-dim state but a different split than the client's.
    from so101_sim.serving import ProtocolMapping

    bad = ProtocolMapping(state={"single_arm": 4, "gripper": 2})
    with served(load_policy(policy_type="so101_scripted", cameras=[]), bad) as server:
        assert main(["run", "--server", f"127.0.0.1:{server.port}", "--episodes", "1", "--headless"]) == 2
    err = capsys.readouterr().err
    assert "does not match the env" in err and "state key 'single_arm': dimension mismatch, server 4" in err


def test_runner_on_the_isaac_backend_through_the_isaac_lab_standin(tmp_path, monkeypatch, capsys):
    """``--backend isaac`` with the project's Isaac Lab stand-in (Isaac Sim cannot run here): the runner asks
    the policy for its camera, renders it through the batched Isaac env and runs the episodes to their limit."""
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    urdf = tests.parents[1] / "shared" / "assets" / "so101" / "so101_new_calib.urdf"
    if not urdf.is_file():
        pytest.skip(f"SO-101 URDF not found at {urdf}")
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    from isaac_so_arm101 import env_cfg
    from so101_sim.isaac import isaaclab_api, recording
    from so101_sim.serving.lerobot_policy import LeRobotChunkPolicy

    monkeypatch.syspath_prepend(str(tests))
    monkeypatch.setenv(isaaclab_api.STANDIN_ENV, "isaac_standin")
    monkeypatch.setenv("SO101_URDF", str(urdf))
    isaaclab_api.clear_cache()
    try:
        cfg = ACTConfig(
            device="cpu", chunk_size=3, n_action_steps=3, dim_model=16, n_heads=2, dim_feedforward=32,
            n_encoder_layers=1, n_decoder_layers=1, use_vae=False, pretrained_backbone_weights=None,
            input_features={
                "observation.images.camera1": PolicyFeature(FeatureType.VISUAL, (3, 16, 16)),
                "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
            },
            output_features={"action": PolicyFeature(FeatureType.ACTION, (6,))},
        )  # fmt: skip
        pre, post = make_pre_post_processors(cfg, dataset_stats=None)
        with served(LeRobotChunkPolicy(ACTPolicy(cfg), pre, post)) as server:
            summary, rows = _run(
                capsys, "--server", f"127.0.0.1:{server.port}", "--backend", "isaac", "--num_envs", "2",
                "--episodes", "3", "--max_steps", "4", "--headless", "--device", "cpu",
            )  # fmt: skip
        assert summary["episodes"] == 3 and summary["backend"] == "isaac"
        assert summary["task"] == "Isaac-SO-ARM101-Lift-Cube-v0"
        assert [r.split()[3] for r in rows] == ["4", "4", "4"]  # every episode ran to --max_steps
    finally:
        isaaclab_api.clear_cache()
        env_cfg._ENV_CFG_CLASS = None
        recording._IMAGES_RECORDER = None
