"""What only LeRobot 0.6 has, through stock commands: the ``lerobot_env_*`` plugin, ``EnvConfig.create_envs``
(async eval without a shim), the tactile grid under its own observation key, and Pi0 / Pi0.5 in the sim.

The suite's other files run on both lines; this one has no meaning on LeRobot 0.4.4 (no env plugins, no
``create_envs``, extra observation keys dropped, a Pi0 that needs a transformers fork).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from lerobot_cli import run_cli

pytestmark = pytest.mark.not_on_line(
    "lerobot04", reason="LeRobot 0.6 features: lerobot_env_* plugins, create_envs, observation passthrough, Pi0"
)

REPO = Path(__file__).resolve().parents[1]
TACTILE_KEY = "observation.tactile.force_grid"


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1",
        "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), **extra,
    }  # fmt: skip


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"{argv[:3]} failed ({proc.returncode}):\n{out[-8000:]}")
    return out


def test_env_plugin_distribution_registers_the_env_types():
    """Stock discovery imports ``lerobot_env_so101_sim`` by its distribution name; it alone registers the envs."""
    code = (
        "import sys; from lerobot.utils.import_utils import register_third_party_plugins; "
        "register_third_party_plugins(); from lerobot.envs.configs import EnvConfig; "
        "print(sorted(m for m in sys.modules if m.startswith('lerobot_env_')), "
        "[t for t in ('so101', 'so101_sim', 'hub') if t in EnvConfig.get_known_choices()])"
    )
    out = _run([sys.executable, "-c", code], REPO, _env()).strip().splitlines()[-1]
    assert out == "['lerobot_env_so101_sim'] ['so101', 'so101_sim', 'hub']"
    code = (
        "import sys, lerobot_env_so101_sim; from lerobot.envs.configs import EnvConfig; "
        "print('lerobot_policy_so101' in sys.modules, 'so101' in EnvConfig.get_known_choices())"
    )
    assert _run([sys.executable, "-c", code], REPO, _env()).strip().splitlines()[-1] == "False True"


def test_env_type_builds_its_own_envs_async_included():
    """``make_env`` -> ``SO101EnvConfig.create_envs``: no EnvHub shim, async with >1 world, SAME_STEP success."""
    import gymnasium as gym
    from lerobot.envs.factory import make_env

    from so101_sim.lerobot.env_config import SO101EnvConfig

    cfg = SO101EnvConfig(task="Reach-v0", cameras=[], envhub_loader=True, episode_length=5)
    assert cfg.hub_path is None  # 0.6 needs no local EnvHub route, for async or any backend
    envs = make_env(cfg, n_envs=2, use_async_envs=True)
    vec = envs[cfg.type][0]
    try:
        assert isinstance(vec, gym.vector.AsyncVectorEnv) and vec.num_envs == 2
        vec.reset(seed=[0, 1])
        for _ in range(5):
            _, _, terminated, truncated, info = vec.step(np.zeros((2, 6), dtype=np.float32))
        assert truncated.all() or terminated.all()
        assert info["final_info"]["is_success"].shape == (2,)  # what lerobot-eval reads (SAME_STEP autoreset)
    finally:
        vec.close()
    single = make_env(cfg, n_envs=1, use_async_envs=True)[cfg.type][0]
    assert isinstance(single, gym.vector.SyncVectorEnv)  # as stock 0.6: async only pays off with >1 world
    single.close()


def test_tactile_grid_arrives_under_its_own_key():
    """The env's ``tactile`` observation -> ``observation.tactile.force_grid`` (env processors, no rename map)."""
    from lerobot.envs.factory import make_env, make_env_pre_post_processors
    from lerobot.envs.utils import env_to_policy_features, preprocess_observation

    from so101_sim.lerobot.env_config import SO101EnvConfig

    cfg = SO101EnvConfig(task="Lift-v0", cameras=["camera1"], image_size=32, tactile=True, tactile_grid=[4, 5])
    assert env_to_policy_features(cfg)[TACTILE_KEY].shape == (2, 4, 5, 3)
    vec = make_env(cfg, n_envs=1)[cfg.type][0]
    try:
        obs, _ = vec.reset(seed=0)
        pre, _ = make_env_pre_post_processors(cfg, policy_cfg=None)
        batch = pre(preprocess_observation(obs))
        assert batch[TACTILE_KEY].shape == (1, 2, 4, 5, 3) and "observation.tactile" not in batch
        np.testing.assert_array_equal(batch[TACTILE_KEY].numpy(), obs["tactile"])
        assert batch["observation.environment_state"].shape == (1, 13)  # the task state stays where it was
    finally:
        vec.close()


def test_tactile_smolvla_sees_the_grid_in_lerobot_eval_without_rename_map(tmp_path):
    """A saved smolvla_tactile policy in stock ``lerobot-eval --env.type=so101 --env.tactile=true``: it raises
    when its tactile key is missing, so a finished eval means the grid reached it under its own key."""
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.factory import make_pre_post_processors
    from lerobot_policy_smolvla_tactile.configuration_smolvla_tactile import SmolVLATactileConfig
    from lerobot_policy_smolvla_tactile.local_smolvlm import image_size_of, write_local_smolvlm
    from lerobot_policy_smolvla_tactile.modeling_smolvla_tactile import SmolVLATactilePolicy

    img, grid = 32, (2, 10, 12, 3)
    vlm = write_local_smolvlm(tmp_path / "vlm", size="tiny")
    cfg = SmolVLATactileConfig(
        vlm_model_name=str(vlm), resize_imgs_with_padding=(image_size_of("tiny"),) * 2, chunk_size=4,
        n_action_steps=4, num_steps=2, device="cpu", use_tactile=True,
        input_features={
            "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
            "observation.images.camera1": PolicyFeature(FeatureType.VISUAL, (3, img, img)),
            TACTILE_KEY: PolicyFeature(FeatureType.STATE, grid),
        },
        output_features={"action": PolicyFeature(FeatureType.ACTION, (6,))},
    )  # fmt: skip
    stats = {
        "observation.state": {"mean": np.zeros(6), "std": np.full(6, 40.0)},
        "action": {"mean": np.zeros(6), "std": np.full(6, 40.0)},
        TACTILE_KEY: {"mean": np.zeros(3), "std": np.array([0.05, 0.05, 0.2])},
    }
    torch.manual_seed(0)
    policy = SmolVLATactilePolicy(cfg, dataset_stats=stats)
    pretrained = tmp_path / "pretrained_model"
    for part in (policy, *make_pre_post_processors(cfg, dataset_stats=stats)):
        part.save_pretrained(pretrained)
    out = tmp_path / "eval"
    run_cli(
        "lerobot-eval", f"--policy.path={pretrained}", "--policy.device=cpu", "--env.type=so101",
        "--env.task=Lift-v0", "--env.tactile=true", "--env.cameras=[camera1]", f"--env.image_size={img}",
        "--env.episode_length=6", "--eval.n_episodes=1", "--eval.batch_size=1", f"--output_dir={out}",
        cwd=tmp_path, env=_env(),
    )  # fmt: skip
    info = json.loads((out / "eval_info.json").read_text())
    assert info["overall"]["n_episodes"] == 1 and list((out / "videos").rglob("*.mp4"))


# ---------------------------------------------------------------------------------------------------------------
# Pi0 / Pi0.5 (tiny, see tests/tiny_pi0.py)
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hf_home(tmp_path_factory) -> Path:
    import tiny_pi0

    home = tmp_path_factory.mktemp("hf")
    tiny_pi0.write_tokenizer(home)
    return home


PI_SMALL = ["--policy.device=cpu", "--policy.image_resolution=[28,28]", "--policy.chunk_size=4",
            "--policy.n_action_steps=4", "--policy.num_inference_steps=2", "--policy.push_to_hub=false"]  # fmt: skip
SIM_SMALL = ["--env.type=so101", "--env.task=Lift-v0", "--env.cameras=[camera1]", "--env.image_size=32",
             "--env.episode_length=4"]  # fmt: skip


def test_pi0_trains_a_step_on_a_sim_dataset_and_evaluates_in_the_sim(tmp_path, hf_home):
    """Stock ``lerobot-train --policy.type=pi0`` on a recorded sim dataset, with in-training eval in the sim."""
    import tiny_pi0

    from so101_sim.record_demos import RecordOptions, record_demos

    root = tmp_path / "demos"
    record_demos(RecordOptions(task="Lift-v0", episodes=1, repo_id="local/pi0", root=root, cameras=("camera1",),
                               image_size=32, progress=False))  # fmt: skip
    out = tmp_path / "train"
    log = _run(
        [*tiny_pi0.cli("lerobot_train"), "--dataset.repo_id=local/pi0", f"--dataset.root={root}",
         "--dataset.video_backend=pyav", "--policy.type=pi0", *PI_SMALL, "--policy.train_expert_only=true",
         *SIM_SMALL, "--env_eval_freq=1", "--eval.n_episodes=1", "--eval.batch_size=1", "--steps=1",
         "--batch_size=1", "--save_checkpoint=false", "--num_workers=0", "--log_freq=1", f"--output_dir={out}",
         "--wandb.enable=false"],
        tmp_path, _env(HF_HOME=str(hf_home)),
    )  # fmt: skip
    assert "step:1" in log.replace(" ", "") and "loss:" in log, log[-3000:]
    assert "Eval policy at step 1" in log, log[-3000:]
    assert len(list((out / "eval").rglob("*.mp4"))) == 1


@pytest.mark.parametrize("policy_type", ["pi0", "pi05"])
def test_pi0_and_pi05_run_in_lerobot_eval(tmp_path, hf_home, policy_type):
    """``lerobot-eval --policy.type=pi0|pi05 --env.type=so101`` (fresh tiny weights: the pipeline, not skill)."""
    import tiny_pi0

    out = tmp_path / "eval"
    _run(
        [*tiny_pi0.cli("lerobot_eval"), f"--policy.type={policy_type}", *PI_SMALL, *SIM_SMALL,
         "--eval.n_episodes=1", "--eval.batch_size=1", f"--output_dir={out}"],
        tmp_path, _env(HF_HOME=str(hf_home)),
    )  # fmt: skip
    info = json.loads((out / "eval_info.json").read_text())
    assert info["overall"]["n_episodes"] == 1
    assert len(list((out / "videos").rglob("*.mp4"))) == 1


def serve_pi0_round_trip(mapping_file: str) -> None:
    """Run in a process with :func:`tiny_pi0.install` applied: a fresh Pi0 served over our GR00T-protocol server
    answers a client exactly as it does in-process (same seed), so a LeRobot 0.4.4 client can drive a Pi0."""
    import torch

    from so101_sim.serving import PolicyClient, PolicyServer, PolicyService, ProtocolMapping
    from so101_sim.serving.lerobot_policy import LeRobotChunkPolicy

    mapping = ProtocolMapping.from_file(mapping_file)
    overrides = {"image_resolution": [28, 28], "chunk_size": 4, "n_action_steps": 4, "num_inference_steps": 2}
    policy = LeRobotChunkPolicy.from_type("pi0", "cpu", overrides, mapping, image_size=(32, 32))
    assert policy.features().cameras == {"observation.images.front": (32, 32)}
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    state = rng.normal(size=(1, 6)).astype(np.float32)
    env_state = rng.normal(size=(1, 13)).astype(np.float32)  # the so101 env type's cube pose + target
    torch.manual_seed(0)
    want = policy.predict_chunk({"observation.images.front": img}, state, ["pick up the red cube"], env_state=env_state)
    want = want[:, :3]
    server = PolicyServer(PolicyService(policy, mapping), "127.0.0.1", 0)
    thread = server.start_thread()
    try:
        with PolicyClient("127.0.0.1", server.port, timeout_ms=120000, mapping=mapping) as client:
            torch.manual_seed(0)
            got = client.get_action_chunk({"front": img}, state, "pick up the red cube", env_state=env_state)
    finally:
        server.stop()
        thread.join(timeout=10)
    assert got.shape == (1, 3, 6) and np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    print("served pi0 ok")


def test_pi0_served_over_the_gr00t_protocol(tmp_path, hf_home):
    """Pi0 lives in a LeRobot 0.6 Python; our server makes it reachable from any client (e.g. a 0.4.4 env)."""
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(
        "video: {top: front}\nstate: {arm: 5, grip: 1}\naction: {arm: 5, grip: 1}\naction_horizon: 3\n"
    )
    tests = json.dumps(str(Path(__file__).parent))
    code = (
        f"import sys; sys.path.insert(0, {tests}); import tiny_pi0; tiny_pi0.install(); import test_lerobot06; "
        f"test_lerobot06.serve_pi0_round_trip({json.dumps(str(mapping_file))})"
    )
    out = _run([sys.executable, "-c", code], tmp_path, _env(HF_HOME=str(hf_home)))
    assert "served pi0 ok" in out
