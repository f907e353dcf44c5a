"""Evaluation of a saved checkpoint through LeRobot's own eval loop (what ``lerobot-eval`` runs), in-process.

:func:`lerobot_eval` builds the env with ``lerobot.envs.factory.make_env`` from our ``so101`` env config, the
policy with ``make_policy`` from the checkpoint, its saved processors with ``make_pre_post_processors``, and
calls ``lerobot.scripts.lerobot_eval.eval_policy``: the same path as
``lerobot-eval --policy.path=DIR --env.type=so101 --env.task=... --eval.n_episodes=... --seed=...``, without
the CLI start-up. Seeds are ``start_seed + i``. :func:`failure_taxonomy` replays the same seeds with the same
policy in our vector env to say WHY episodes failed (no contact / slip / not high enough).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch


def wilson_lower(successes: int, n: int, z: float = 1.959964) -> float:
    """Wilson score 95% lower bound of a success rate."""
    if n == 0:
        return 0.0
    p = successes / n
    den = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - margin) / den


def _env_config(task: str, sizes: dict[str, tuple[int, int]], episode_length: int | None):
    import so101_sim.lerobot  # noqa: F401
    from so101_sim.lerobot.env_config import SO101EnvConfig

    return SO101EnvConfig(
        task=task, cameras=sorted(sizes), episode_length=episode_length,
        camera_sizes={c: [h, w] for c, (h, w) in sizes.items()},
    )  # fmt: skip


def policy_cameras(policy_path: str | Path) -> list[str]:
    """Cameras a checkpoint's policy reads (``observation.images.<camera>`` input features)."""
    return sorted(policy_camera_sizes(policy_path))


def policy_camera_sizes(policy_path: str | Path) -> dict[str, tuple[int, int]]:
    """{camera: (height, width)} of the images a checkpoint's policy reads (from its config.json)."""
    import json

    path = Path(policy_path) / "config.json"
    cfg = json.loads(path.read_text())
    out = {}
    for key, ft in cfg.get("input_features", {}).items():
        if key.startswith("observation.images."):
            shape = ft.get("shape") if isinstance(ft, dict) else None
            if not shape or len(shape) != 3:
                raise ValueError(f"{path}: input_features[{key!r}].shape must be (C, H, W), got {shape}")
            out[key.split(".", 2)[2]] = (int(shape[1]), int(shape[2]))
    return out


def lerobot_eval(
    policy_path: str | Path,
    *,
    task: str = "Lift-v0",
    n_episodes: int = 100,
    start_seed: int = 1000,
    batch_size: int = 50,
    episode_length: int | None = None,
    videos_dir: Path | None = None,
    max_episodes_rendered: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """LeRobot's eval loop on a checkpoint. Returns ``{"successes", "n", "pc_success", "wilson_lower", ...}``."""
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.envs.factory import make_env, make_env_pre_post_processors
    from lerobot.policies.factory import make_policy, make_pre_post_processors
    from lerobot.scripts.lerobot_eval import eval_policy

    import so101_sim.lerobot  # noqa: F401

    env_cfg = _env_config(task, policy_camera_sizes(policy_path), episode_length)
    envs = make_env(env_cfg, n_envs=min(batch_size, n_episodes))
    env = next(iter(next(iter(envs.values())).values()))
    try:
        policy_cfg = PreTrainedConfig.from_pretrained(str(policy_path))
        policy_cfg.pretrained_path = str(policy_path)
        policy_cfg.device = device
        policy = make_policy(cfg=policy_cfg, env_cfg=env_cfg)
        policy.eval()
        pre, post = make_pre_post_processors(
            policy_cfg,
            pretrained_path=str(policy_path),
            preprocessor_overrides={
                "device_processor": {"device": device},
                "rename_observations_processor": {"rename_map": {}},
            },
        )
        env_pre, env_post = make_env_pre_post_processors(env_cfg, policy_cfg)
        with torch.no_grad():
            info = eval_policy(
                env, policy, env_pre, env_post, pre, post, n_episodes=n_episodes,
                max_episodes_rendered=max_episodes_rendered, videos_dir=videos_dir, start_seed=start_seed,
            )  # fmt: skip
    finally:
        env.close()
    per_ep = info["per_episode"]
    succ = [bool(e["success"]) for e in per_ep]
    k = int(sum(succ))
    return {
        "successes": k,
        "n": len(succ),
        "pc_success": 100.0 * k / max(1, len(succ)),
        "wilson_lower": 100.0 * wilson_lower(k, len(succ)),
        "per_episode_success": succ,
        "seeds": [int(e["seed"]) for e in per_ep],
        "video_paths": info.get("video_paths", []),
    }


def failure_taxonomy(
    policy_path: str | Path,
    *,
    task: str = "Lift-v0",
    n_episodes: int = 100,
    start_seed: int = 1000,
    batch_size: int = 50,
    episode_length: int | None = None,
) -> dict[str, int]:
    """Outcome counts (success / no_contact / slip / not_high_enough) of the checkpoint's ODE policy on seeds
    ``start_seed + i``, run through the policy's own ``select_action`` and processors (as lerobot-eval)."""
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.envs.utils import preprocess_observation
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    import so101_sim.lerobot  # noqa: F401 - registers flow_mlp (stock commands get it from the plugin)
    from so101_sim.rl.collector import EpisodeTracker, make_train_envs

    cfg = PreTrainedConfig.from_pretrained(str(policy_path))
    cfg.device = "cpu"
    policy = get_policy_class(cfg.type).from_pretrained(str(policy_path), config=cfg)
    policy.eval()
    pre, post = make_pre_post_processors(cfg, pretrained_path=str(policy_path))
    counts = {"success": 0, "no_contact": 0, "slip": 0, "not_high_enough": 0}
    sizes = policy_camera_sizes(policy_path)
    for start in range(0, n_episodes, batch_size):
        b = min(batch_size, n_episodes - start)
        envs = make_train_envs(task, b, episode_length=episode_length, cameras=tuple(sizes), image_size=sizes)
        try:
            obs, info = envs.reset(seed=[start_seed + start + i for i in range(b)])
            tracker = EpisodeTracker(b, envs.envs[0].unwrapped.task_spec.lift_height)
            tasks = [e.unwrapped.task_description for e in envs.envs]
            policy.reset()
            done = np.zeros(b, bool)
            while not done.all():
                batch = preprocess_observation(obs)
                batch["task"] = tasks
                with torch.no_grad():
                    act = post(policy.select_action(pre(batch))).numpy()
                obs, _, te, tr, info = envs.step(act.astype(np.float32))
                fin = info.get("final_info", {})
                for i in np.nonzero(~done)[0]:
                    ended = te[i] or tr[i]
                    src = fin if ended else info
                    tracker.observe(i, 0.0, np.asarray(src["privileged_state"][i]), bool(src["cube_grasped"][i]))
                    if ended:
                        tracker.finish(i, bool(src["is_success"][i]), bool(src["cube_grasped"][i]))
                        done[i] = True
            for ep in tracker.pop():
                counts[ep["outcome"]] += 1
        finally:
            envs.close()
    return counts
