"""``so101-sim run``: the same policy in-process and over the protocol gives the same episodes (real MuJoCo,
real LeRobot policies, a real server on loopback)."""

from __future__ import annotations

import contextlib
import json
import socket

import pytest
from gr00t_peers import PeerServer, so100_modality
from serving_threads import server_thread

from so101_sim.cli import main
from so101_sim.serving import PolicyServer, PolicyService
from so101_sim.serving.lerobot_policy import load_policy


def _scripted_registered() -> None:
    """The project's scripted policy type is registered (part of what these tests prove)."""
    from lerobot.configs.policies import PreTrainedConfig

    import so101_sim.lerobot  # noqa: F401

    PreTrainedConfig.get_choice_class("so101_scripted")


def served(policy, mapping=None):
    from so101_sim.serving import ProtocolMapping

    return server_thread(PolicyServer(PolicyService(policy, mapping or ProtocolMapping()), "127.0.0.1", 0), 10)


def _run(capsys, *argv: str) -> tuple[dict, list[str]]:
    assert main(["run", *argv]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    table = [line for line in out if line.strip() and line.split()[0].isdigit()]
    return summary, table


def test_runner_over_the_server_matches_in_process_for_the_scripted_policy(capsys):
    _scripted_registered()
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
    assert main(["run", "--server", f"127.0.0.1:{port}", "--timeout-ms", "300", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert f"error: no policy server answers at 127.0.0.1:{port}" in err and "Traceback" not in err


def test_runner_names_mismatches_before_running(tmp_path, capsys):
    _scripted_registered()
    # The server splits the 6-dim state 'single_arm' 5 + 'gripper' 1; the client's mapping file says 4 + 2.
    bad = tmp_path / "mapping.yaml"
    bad.write_text("state: {single_arm: 4, gripper: 2}\n")
    with served(load_policy(policy_type="so101_scripted", cameras=[])) as server:
        argv = ["run", "--server", f"127.0.0.1:{server.port}", "--episodes", "1", "--headless", "--mapping", str(bad)]
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert "does not match the env" in err and "state key 'single_arm': dimension mismatch, server 5" in err
    assert "Traceback" not in err


def test_runner_on_the_isaac_backend_through_the_isaac_lab_standin(tmp_path, monkeypatch, capsys):
    """``--backend isaac`` with the project's Isaac Lab stand-in (Isaac Sim cannot run here): the runner asks
    the policy for its camera, renders it through the batched Isaac env and runs the episodes to their limit."""
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    urdf = tests.parents[1] / "shared" / "assets" / "so101" / "so101_new_calib.urdf"
    assert urdf.is_file(), f"SO-101 URDF not found at {urdf} (the shared assets are part of the checkout)"
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


# ------------------------------------------------------------------------------------------------------------------
# Against GR00T servers (peers of each generation, tests/gr00t_peers.py): no mapping file, errors as error: lines
# ------------------------------------------------------------------------------------------------------------------

FAST = ["--episodes", "1", "--max_steps", "3", "--headless", "--image-size", "32", "--timeout-ms", "5000"]


@contextlib.contextmanager
def peer(**kw):
    server = PeerServer(**kw)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "kw", [{"generation": "n1.6"}, {"generation": "n1.6", "sim": True}, {"generation": "n1.5"},
           {"generation": "n1.6", "modality": so100_modality(video_deltas=(-1, 0), state_deltas=(-3, 0))}],
    ids=["n16", "n16-sim", "n15", "n16-history"],
)  # fmt: skip
def test_runner_drives_gr00t_servers_with_no_mapping(kw, capsys):
    with peer(**kw) as server:
        summary, rows = _run(capsys, "--server", f"127.0.0.1:{server.port}", "--action_horizon", "2", *FAST)
    assert summary["episodes"] == 1 and rows[0].split()[3] == "3"
    assert server.unknown_endpoints == []  # never an endpoint GR00T servers lack (each prints a traceback there)
    assert server.endpoints_called.count("get_modality_config") == 1
    data = server.seen[-1]
    obs = data if kw["generation"] == "n1.5" else data["observation"]
    front = obs["video.front"] if "video.front" in obs else obs["video"]["front"]
    t = len(kw.get("modality", so100_modality())["video"]["delta_indices"])
    assert front.shape == (1, t, 32, 32, 3) and front.std() > 1.0  # camera1 rendered, t frames of history


def test_runner_errors_are_error_lines_never_tracebacks(capsys):
    def fails(*argv: str) -> str:
        assert main(["run", *argv]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return err

    with peer(api_token="s3cret") as server:
        err = fails("--server", f"127.0.0.1:{server.port}", *FAST)
        assert "error: the policy server at" in err and "refused the api token (none given)" in err
    with peer(generation="n1.5", pickle=True) as server:
        assert "pickle protocol" in fails("--server", f"127.0.0.1:{server.port}", *FAST)
    with peer(modality=so100_modality(cameras=("cam_high", "wrist"))) as server:
        err = fails("--server", f"127.0.0.1:{server.port}", *FAST)
        assert "camera 'cam_high' is not a camera of the scene" in err and "--camera-map cam_high=" in err
        # ...and the override makes it run.
        _run(capsys, "--server", f"127.0.0.1:{server.port}", "--camera-map", "cam_high=camera3", *FAST)
    with peer(fail_after=1) as server:  # the policy crashes in the middle of the episode
        err = fails("--server", f"127.0.0.1:{server.port}", "--action_horizon", "1", *FAST)
        assert "error: the policy failed during the episodes" in err and "illegal memory access" in err
