"""The ReinFlow + PPO training loop behind ``so101-sim rl train``, with checkpoints and ``--resume``.

Output directory::

    DIR/train_config.json                 every option of the run (``--resume DIR`` reads it back)
    DIR/stats.csv  DIR/success.png        per-iteration statistics (:mod:`.stats`) and the success plot
    DIR/tensorboard/                      when tensorboard is installed
    DIR/videos/iter_NNNN/                 eval videos (LeRobot's eval loop), every ``video_every`` iterations
    DIR/checkpoints/last/pretrained_model an ORDINARY checkpoint of the policy's own type (no noise head):
                                          ``lerobot-eval --policy.path=DIR/checkpoints/last/pretrained_model``
    DIR/checkpoints/last/training_state.pt noise head, critic, optimizers, RNG states, iteration, sigma bounds
    DIR/checkpoints/best/pretrained_model the checkpoint with the best held-out eval success so far

``checkpoints/last`` is replaced as a whole (written beside it, then renamed), so an interrupted run always leaves
a consistent pair. Resuming restores every learned and random state; the envs start fresh episodes (a MuJoCo
episode in flight is not part of the state).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from so101_sim.rl.chain import ReinFlowChain, SigmaSchedule
from so101_sim.rl.collector import FAILURE_KINDS, ChunkCollector, make_train_envs
from so101_sim.rl.critic import PrivilegedCritic
from so101_sim.rl.ppo import PPOConfig, ppo_update
from so101_sim.rl.stats import StatsLog, atomic_write_text, plot_success


@dataclass
class TrainConfig:
    policy_path: str = ""
    output_dir: str = "outputs/rl/run"
    task: str = "Lift-v0"
    n_envs: int = 32
    iterations: int = 30
    decisions: int = 0  # per env per iteration; 0 = one episode's worth (episode_length / n_exec)
    episode_length: int | None = None  # env steps; None = the task's default
    n_exec: int | None = None  # chunk steps executed per decision; None = the policy's n_action_steps
    denoise_steps: int = 4
    noisy_steps: int = 0  # stochastic denoising steps (the last ones); 0 = all K
    sigma_mode: str = "learned"
    sigma_min: float = 0.02  # normalised action units; see docs/rl.md "Exploration has to be calibrated"
    sigma_max: float = 0.06
    actor_lr: float = 3e-6
    noise_lr: float = 3e-4
    critic_lr: float = 1e-3
    critic_warmup: int = 2  # iterations that update only the critic
    reward: str = "success"  # success | shaped | env (see collector)
    shaping_coef: float = 0.1
    ppo: PPOConfig = field(default_factory=PPOConfig)
    seed: int = 0
    eval_every: int = 0  # iterations; 0 = only at the end
    eval_episodes: int = 50
    eval_seed: int = 1000  # held-out: lerobot-eval's default start seed
    video_every: int = 0  # iterations; 0 = no videos
    eval_initial: bool = False  # evaluate the starting policy (with K = denoise_steps) as iteration 0
    save_every: int = 1
    device: str = "cpu"
    progress: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"train_config.json: unknown keys {unknown}")
        d = dict(d)
        d["ppo"] = PPOConfig(**d.get("ppo", {}))
        return cls(**d)


def _rng_state(gen: torch.Generator) -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(), "sampler": gen.get_state()}


def _set_rng_state(state: dict[str, Any], gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    gen.set_state(state["sampler"])


class Trainer:
    def __init__(self, cfg: TrainConfig, resume: bool = False) -> None:
        from so101_sim.rl.adapters import load_adapter

        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        self.last_dir = self.out / "checkpoints" / "last"
        state = None
        if resume:
            state_path = self.last_dir / "training_state.pt"
            if not state_path.is_file():
                raise FileNotFoundError(f"--resume {self.out}: {state_path} not found (no checkpoint to resume from)")
            state = torch.load(state_path, map_location=cfg.device, weights_only=False)
            policy_path = self.last_dir / "pretrained_model"
        else:
            if (self.out / "checkpoints").exists():
                raise FileExistsError(f"{self.out} already holds a run; use --resume {self.out} or another --output-dir")
            policy_path = Path(cfg.policy_path)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        self.adapter = load_adapter(policy_path, device=cfg.device, n_exec=cfg.n_exec, num_steps=cfg.denoise_steps)
        self.adapter.set_eval()
        spec = self.adapter.spec
        self.chain = ReinFlowChain(
            spec, self.adapter.feature_dim, k_steps=cfg.denoise_steps,
            sigma=SigmaSchedule(cfg.sigma_mode, cfg.sigma_min, cfg.sigma_max), noisy_steps=cfg.noisy_steps or None,
        ).to(cfg.device)  # fmt: skip
        from so101_sim.rl.evaluate import policy_camera_sizes

        sizes = policy_camera_sizes(policy_path)  # image-seeing policies get the cameras they were trained on
        self.envs = make_train_envs(
            cfg.task, cfg.n_envs, episode_length=cfg.episode_length, cameras=tuple(sizes), image_size=sizes
        )
        env0 = self.envs.envs[0].unwrapped
        if env0._max_episode_steps <= 2 * spec.n_exec:
            raise ValueError(
                f"episode length {env0._max_episode_steps} must exceed 2 x n_exec = {2 * spec.n_exec} env steps"
            )
        self.decisions = cfg.decisions or int(np.ceil(env0._max_episode_steps / spec.n_exec))
        self.critic = PrivilegedCritic(env0.PRIVILEGED_STATE_DIM).to(cfg.device)
        self.actor_opt = torch.optim.Adam(
            [
                {"params": self.adapter.trainable_parameters(), "lr": cfg.actor_lr},
                {"params": list(self.chain.noise_head.parameters()), "lr": cfg.noise_lr},
            ]
        )
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)
        self.gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
        self.iteration = 0
        self.env_steps = 0
        self.seconds = 0.0
        self.best_eval = -1.0
        rows: list[dict[str, Any]] = []
        if state is not None:
            self.chain.load_state_dict(state["chain"])
            self.critic.load_state_dict(state["critic"])
            self.actor_opt.load_state_dict(state["actor_opt"])
            self.critic_opt.load_state_dict(state["critic_opt"])
            _set_rng_state(state["rng"], self.gen)
            self.iteration = int(state["iteration"])
            self.env_steps = int(state["env_steps"])
            self.seconds = float(state["seconds"])
            self.best_eval = float(state.get("best_eval", -1.0))
            rows = state["stats"]
        else:
            atomic_write_text(self.out / "train_config.json", json.dumps(cfg.to_json(), indent=2))
        self.log = StatsLog(self.out, rows)
        # Fresh episodes, seeded by where the run stands (training seeds never reach the eval seeds' range).
        self.collector = ChunkCollector(
            self.envs, self.adapter, self.chain, seed=cfg.seed * 100_003 + self.iteration * cfg.n_envs + 10_000_000,
            reward_mode=cfg.reward, shaping_coef=cfg.shaping_coef, gamma=cfg.ppo.gamma,
        )  # fmt: skip

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path:
        """Replace ``checkpoints/last`` by the current policy export + training state (atomically)."""
        ck = self.out / "checkpoints"
        ck.mkdir(parents=True, exist_ok=True)
        tmp = ck / ".last.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        self.adapter.export(tmp / "pretrained_model")
        torch.save(
            {
                "chain": self.chain.state_dict(), "critic": self.critic.state_dict(),
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "rng": _rng_state(self.gen), "iteration": self.iteration, "env_steps": self.env_steps,
                "seconds": self.seconds, "best_eval": self.best_eval, "stats": self.log.rows,
                "config": self.cfg.to_json(),
            },
            tmp / "training_state.pt",
        )  # fmt: skip
        old = ck / ".last.old"
        shutil.rmtree(old, ignore_errors=True)
        if self.last_dir.exists():
            os.replace(self.last_dir, old)
        os.replace(tmp, self.last_dir)
        shutil.rmtree(old, ignore_errors=True)
        return self.last_dir

    def _save_best(self) -> None:
        best = self.out / "checkpoints" / "best"
        tmp = self.out / "checkpoints" / ".best.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(self.last_dir / "pretrained_model", tmp / "pretrained_model")
        shutil.rmtree(best, ignore_errors=True)
        os.replace(tmp, best)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, videos: bool, policy_dir: Path | None = None) -> dict[str, Any]:
        from so101_sim.rl.evaluate import lerobot_eval

        vdir = self.out / "videos" / f"iter_{self.iteration:04d}" if videos else None
        return lerobot_eval(
            policy_dir or self.last_dir / "pretrained_model", task=self.cfg.task, n_episodes=self.cfg.eval_episodes,
            start_seed=self.cfg.eval_seed, batch_size=min(50, self.cfg.eval_episodes),
            episode_length=self.cfg.episode_length, videos_dir=vdir, max_episodes_rendered=2 if videos else 0,
            device=self.cfg.device,
        )  # fmt: skip

    # ------------------------------------------------------------------ loop
    def train(self) -> dict[str, Any]:
        cfg = self.cfg
        bar = tqdm(
            total=cfg.iterations, initial=self.iteration, desc="rl train", unit="it", disable=not cfg.progress
        )
        last_eval = None
        if cfg.eval_initial and self.iteration == 0 and not self.log.rows:
            initial = self.out / "checkpoints" / "initial"
            self.adapter.export(initial / "pretrained_model")
            ev = self.evaluate(videos=bool(cfg.video_every), policy_dir=initial / "pretrained_model")
            self.log.add({"iteration": 0, "env_steps": 0, "seconds": 0.0, "eval_success": ev["pc_success"] / 100.0,
                          "eval_wilson_lower": ev["wilson_lower"] / 100.0})  # fmt: skip
        while self.iteration < cfg.iterations:
            t0 = time.perf_counter()
            self.chain.set_progress(self.iteration / max(1, cfg.iterations))
            steps0, env_s0 = self.collector.env_steps, self.collector.env_seconds
            rollout = self.collector.collect(self.decisions, generator=self.gen)
            t_collect = time.perf_counter() - t0
            steps = self.collector.env_steps - steps0
            env_s = self.collector.env_seconds - env_s0
            actor = self.actor_opt if self.iteration >= cfg.critic_warmup else None
            stats = ppo_update(self.adapter, self.chain, self.critic, actor, self.critic_opt, rollout, cfg.ppo, self.gen)
            episodes = self.collector.tracker.pop()
            self.iteration += 1
            self.env_steps += steps
            row: dict[str, Any] = {
                "iteration": self.iteration, "env_steps": self.env_steps, "episodes": len(episodes),
                "collector_steps_per_s": steps / max(t_collect, 1e-9), "env_steps_per_s": steps / max(env_s, 1e-9),
                **stats,
            }  # fmt: skip
            if episodes:
                row["train_success"] = float(np.mean([e["success"] for e in episodes]))
                row["train_return"] = float(np.mean([e["return"] for e in episodes]))
                for kind in FAILURE_KINDS:
                    row[kind] = sum(e["outcome"] == kind for e in episodes)
            final = self.iteration == cfg.iterations
            do_eval = final or (cfg.eval_every and self.iteration % cfg.eval_every == 0)
            do_video = bool(cfg.video_every) and (self.iteration % cfg.video_every == 0 or final)
            self.seconds += time.perf_counter() - t0
            row["seconds"] = self.seconds
            self.log.rows.append(row)  # the checkpoint's training state carries the statistics so far
            if final or do_eval or do_video or self.iteration % max(1, cfg.save_every) == 0:
                self.save()
                if do_eval or do_video:
                    last_eval = self.evaluate(videos=do_video)
                    row["eval_success"] = last_eval["pc_success"] / 100.0
                    row["eval_wilson_lower"] = last_eval["wilson_lower"] / 100.0
                    if last_eval["pc_success"] > self.best_eval:
                        self.best_eval = last_eval["pc_success"]
                        self._save_best()
                    self.save()  # again, with the eval figures in the saved statistics
            self.log.rows.pop()
            self.log.add(row)
            plot_success(self.out, self.log.rows)
            bar.update(1)
            bar.set_postfix(
                succ=f"{row.get('train_success', float('nan')):.2f}", kl=f"{stats.get('approx_kl', 0):.1e}",
                sigma=f"{stats.get('sigma_mean', 0):.3f}",
            )  # fmt: skip
        bar.close()
        self.log.close()
        self.envs.close()
        return {
            "iterations": self.iteration,
            "env_steps": self.env_steps,
            "checkpoint": str(self.last_dir / "pretrained_model"),
            "eval": {k: v for k, v in (last_eval or {}).items() if k in ("successes", "n", "pc_success", "wilson_lower")},
        }
