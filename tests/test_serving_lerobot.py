"""Serving real LeRobot policies: a tiny ACT saved with its processors and served by ``so101-sim serve``
(a real subprocess), a fresh ``--policy.type`` policy, the project's scripted policy when registered, and the
shared frame/action adapters against lerobot's own conversion.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from lerobot.configs.types import FeatureType, PolicyFeature

from so101_sim import adapters
from so101_sim.serving import EnvDescription, PolicyClient, PolicyServer, PolicyService, ProtocolMapping
from so101_sim.serving.lerobot_policy import LeRobotChunkPolicy, load_policy

REPO = Path(__file__).resolve().parents[1]
H, W, CHUNK = 48, 64, 8


@pytest.fixture(scope="module")
def tiny_act_dir(tmp_path_factory) -> Path:
    """A real ACT (tiny dims, random init, no backbone download) saved with normalizing processors."""
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    torch.manual_seed(0)
    cfg = ACTConfig(
        device="cpu",
        chunk_size=CHUNK,
        n_action_steps=CHUNK,
        dim_model=32,
        n_heads=2,
        dim_feedforward=64,
        n_encoder_layers=1,
        n_decoder_layers=1,
        use_vae=False,
        pretrained_backbone_weights=None,
        input_features={
            "observation.images.front": PolicyFeature(FeatureType.VISUAL, (3, H, W)),
            "observation.images.wrist": PolicyFeature(FeatureType.VISUAL, (3, H, W)),
            "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
        },
        output_features={"action": PolicyFeature(FeatureType.ACTION, (6,))},
    )
    policy = ACTPolicy(cfg)
    stats = {
        "observation.state": {"mean": torch.zeros(6), "std": torch.full((6,), 30.0)},
        "action": {"mean": torch.tensor([0.0, 10, -10, 20, 0, 50]), "std": torch.full((6,), 5.0)},
        **{
            f"observation.images.{c}": {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.25)}
            for c in ("front", "wrist")
        },
    }
    pre, post = make_pre_post_processors(cfg, dataset_stats=stats)
    out = tmp_path_factory.mktemp("tiny_act")
    policy.save_pretrained(out)
    pre.save_pretrained(out)
    post.save_pretrained(out)
    return out


def _obs(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    images = {c: rng.integers(0, 256, (batch, H, W, 3), dtype=np.uint8) for c in ("front", "wrist")}
    return images, rng.normal(scale=20, size=(batch, 6)).astype(np.float32)


class ServeProcess:
    """``python -m so101_sim.cli serve ...`` in a subprocess; always terminated on exit."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "so101_sim.cli", "serve", "--port", "0", "--device", "cpu", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = self._wait_ready(timeout=120)

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def _wait_ready(self, timeout: float) -> int:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            m = re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", line)
            if m:
                return int(m.group(1))
        self.close()
        raise AssertionError("server did not start:\n" + "".join(self.output))

    def close(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def test_served_tiny_act_matches_in_process_inference(tiny_act_dir):
    images, state = _obs(batch=2)
    local = load_policy(path=str(tiny_act_dir))
    want = local.predict_chunk({f"observation.images.{c}": v for c, v in images.items()}, state, ["lift", "lift"])
    assert want.shape == (2, CHUNK, 6)
    assert not local.stateful  # ACT predicts whole chunks: any number of clients may share the server
    # The saved unnormalizer is applied: actions are around the dataset mean, not around 0.
    assert abs(float(want[..., 5].mean()) - 50.0) < 25.0

    server = ServeProcess("--policy.path", str(tiny_act_dir), "--api-token", "tok")
    try:
        for fmt in ("nested", "flat"):
            with PolicyClient(
                "127.0.0.1", server.port, timeout_ms=30000, api_token="tok", mapping=ProtocolMapping(format=fmt)
            ) as client:
                got = client.get_action_chunk(images, state, "lift")
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        with PolicyClient("127.0.0.1", server.port, timeout_ms=30000, api_token="tok") as client:
            assert client.check_compatibility(EnvDescription({"front": (H, W), "wrist": (H, W)}, 6, 6)) == []
            problems = client.check_compatibility(EnvDescription({"front": (96, 128), "wrist": (H, W)}, 6, 6))
            assert problems == ["camera 'front': resolution mismatch, server expects 48x64, env renders 96x128"]
            client.kill_server()
        assert server.proc.wait(timeout=20) == 0
    finally:
        server.close()


def test_serve_cli_rejects_a_directory_without_a_policy(tmp_path, capsys):
    from so101_sim.cli import main

    assert main(["serve", "--policy.path", str(tmp_path), "--port", "0", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "is not a LeRobot pretrained policy directory (no config.json)" in err
    assert "Traceback" not in err
    # Binding every interface without a token is refused before anything loads.
    assert main(["serve", "--policy.type", "act", "--host", "0.0.0.0", "--port", "0", "--device", "cpu"]) == 2
    assert "refusing to serve on 0.0.0.0 without --api-token" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: --policy.path and --policy.type are exclusive
        main(["serve", "--policy.path", str(tmp_path), "--policy.type", "act"])


def test_pretrained_directory_without_processors_is_refused(tiny_act_dir, tmp_path):
    (tmp_path / "config.json").write_text((tiny_act_dir / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="has no policy_preprocessor.json"):
        load_policy(path=str(tmp_path))
    with pytest.raises(ValueError, match="exactly one of --policy.path and --policy.type"):
        load_policy(path=str(tiny_act_dir), policy_type="act")


def test_fresh_policy_type_with_mapping_is_served_unchanged(tmp_path):
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(
        "video: {top: front}\nstate: {arm: 5, grip: 1}\naction: {arm: 5, grip: 1}\naction_horizon: 3\n"
    )
    mapping = ProtocolMapping.from_file(mapping_file)
    policy = LeRobotChunkPolicy.from_type(
        "act",
        "cpu",
        {
            "chunk_size": 5,
            "n_action_steps": 5,
            "dim_model": 16,
            "n_heads": 2,
            "dim_feedforward": 32,
            "n_encoder_layers": 1,
            "n_decoder_layers": 1,
            "use_vae": False,
            "pretrained_backbone_weights": None,
        },
        mapping,
        image_size=(32, 32),
    )
    assert policy.features().cameras == {"observation.images.front": (32, 32)}
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    state = rng.normal(size=(1, 6)).astype(np.float32)
    env_state = rng.normal(size=(1, 13)).astype(np.float32)  # the so101 env type's cube pose + target
    assert policy.features().env_state_shape == (13,)
    want = policy.predict_chunk({"observation.images.front": img}, state, ["t"], env_state=env_state)[:, :3]
    server = PolicyServer(PolicyService(policy, mapping), "127.0.0.1", 0)
    thread = server.start_thread()
    try:
        with PolicyClient("127.0.0.1", server.port, timeout_ms=30000, mapping=mapping) as client:
            got = client.get_action_chunk({"front": img}, state, "t", env_state=env_state)
            assert got.shape == (1, 3, 6)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            assert client.get_modality_config()["video"].modality_keys == ["top"]
    finally:
        server.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_scripted_policy_served_over_the_protocol_acts_like_the_expert():
    """A served ``so101_scripted`` policy drives a real MuJoCo episode exactly as the expert does in-process."""
    import gymnasium as gym

    from so101_sim.mujoco.expert import ScriptedExpert

    server = PolicyServer(PolicyService(load_policy(policy_type="so101_scripted", cameras=[])), "127.0.0.1", 0)
    thread = server.start_thread()
    env = gym.make("so101_sim/Lift-v0", cameras=())
    try:
        with PolicyClient("127.0.0.1", server.port, timeout_ms=60000) as client:
            env_desc = EnvDescription({}, state_dim=6, action_dim=6, env_state_dim=13)
            assert client.check_compatibility(env_desc) == []
            assert client.get_modality_config()["state"].modality_keys == ["single_arm", "gripper", "environment_state"]
            client.reset()
            expert = ScriptedExpert("Lift-v0", seed=0)
            obs, _ = env.reset(seed=3)
            for _ in range(40):
                chunk = client.get_action_chunk(
                    {}, obs["agent_pos"][None], env.unwrapped.task_description, env_state=obs["environment_state"][None]
                )
                want = expert.act(obs["agent_pos"], obs["environment_state"])
                assert chunk.shape == (1, 1, 6)
                np.testing.assert_allclose(chunk[0, 0], want, rtol=1e-5, atol=1e-4)
                obs, *_ = env.step(chunk[0, 0])
            client.kill_server()
        thread.join(timeout=10)
        assert not thread.is_alive()
    finally:
        env.close()
        server.stop()
        thread.join(timeout=10)


# ----------------------------------------------------------------------------------------------------------------
# Shared adapters
# ----------------------------------------------------------------------------------------------------------------


def test_policy_frame_matches_lerobot_preprocess_observation():
    from lerobot.envs.utils import preprocess_observation

    images, state = _obs(batch=3, seed=7)
    env_state = np.random.default_rng(8).normal(size=(3, 13)).astype(np.float32)
    ours = adapters.lerobot_policy_frame(images, state, "pick up the cube", env_state=env_state)
    theirs = preprocess_observation(
        {"pixels": images, "agent_pos": state.astype(np.float64), "environment_state": env_state}
    )
    assert "observation.environment_state" in theirs
    assert set(ours) == set(theirs) | {"task"}
    for k, v in theirs.items():
        assert ours[k].dtype == v.dtype and torch.equal(ours[k], v), k
    assert ours["task"] == ["pick up the cube"] * 3
    with pytest.raises(ValueError, match="got 2 task strings for a batch of 3"):
        adapters.lerobot_policy_frame(images, state, ["a", "b"])
    with pytest.raises(ValueError, match="expected uint8 images"):
        adapters.lerobot_policy_frame({"front": images["front"].astype(np.float32)}, state, "x")


def test_action_chunk_to_env_actions_clips_crops_and_converts_units():
    low, high = adapters.units_bounds("radians")
    chunk = np.zeros((2, 3, 32))  # SmolVLA-style padded actions
    chunk[..., :6] = [[0.0, 90.0, -30.0, 45.0, 720.0, 50.0]]  # lerobot units; wrist_roll far out of range
    out = adapters.action_chunk_to_env_actions(
        chunk, action_dim=6, low=low, high=high, policy_units="lerobot", env_units="radians"
    )
    assert out.shape == (2, 3, 6) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, :4], np.deg2rad([0.0, 90.0, -30.0, 45.0]), rtol=1e-6)
    assert out[0, 0, 4] == pytest.approx(high[4], rel=1e-6)  # clipped
    mid_grip = (adapters.SO101_JOINT_LOW[5] + adapters.SO101_JOINT_HIGH[5]) / 2
    assert out[1, 2, 5] == pytest.approx(mid_grip, rel=1e-5)
    same = adapters.action_chunk_to_env_actions(chunk[..., :6], action_dim=6)
    np.testing.assert_array_equal(same, chunk[..., :6].astype(np.float32))
    with pytest.raises(ValueError, match="NaN"):
        adapters.action_chunk_to_env_actions(np.full((1, 1, 6), np.nan), action_dim=6)
    np.testing.assert_allclose(adapters.convert_joint_units(np.full(6, 10.0), "lerobot", "lerobot"), np.full(6, 10.0))
