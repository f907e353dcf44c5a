"""``so101-sim rl``: ReinFlow RL fine-tuning of flow-matching policies in the MuJoCo sim (see docs/rl.md).

    so101-sim rl bc     --dataset.root DIR --dataset.repo_id local/x --output DIR      fast state-only flow_mlp BC
    so101-sim rl train  --policy.path CKPT --env.task Lift-v0 --output-dir DIR ...     BC -> RL (headless)
    so101-sim rl train  --resume DIR [--iterations N]                                    continue a run
    so101-sim rl stats  DIR                                                              per-iteration table
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "rl"
HELP = "RL fine-tuning (ReinFlow + PPO) of flow-matching policies: train, resume, stats, fast BC."


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="rl_command", required=True, metavar="SUBCOMMAND")

    t = sub.add_parser("train", help="fine-tune a BC checkpoint with ReinFlow (headless; progress bar, CSV, plot)")
    t.add_argument("--policy.path", dest="policy_path", help="BC checkpoint (pretrained_model dir): flow_mlp or smolvla")
    t.add_argument("--env.task", dest="task", default="Lift-v0")
    t.add_argument("--output-dir", type=Path, help="run directory (default outputs/rl/<task>)")
    t.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR (its train_config.json)")
    t.add_argument("--n-envs", type=int, default=32, help="parallel MuJoCo envs (columns of the PPO buffer)")
    t.add_argument("--iterations", type=int, default=30, help="rollout + update iterations (total, also on resume)")
    t.add_argument("--decisions", type=int, default=0, help="decisions per env per iteration (0: one episode's worth)")
    t.add_argument("--episode-length", type=int, default=None, help="env steps per episode (default: the task's)")
    t.add_argument("--n-exec", type=int, default=None, help="chunk steps executed per decision (default: policy's)")
    t.add_argument("--denoise-steps", type=int, default=4, help="K Euler steps of the noisy chain (and of the export)")
    t.add_argument("--noisy-steps", type=int, default=0,
                   help="only the last N denoising steps are stochastic (0: all K); the rest is recomputed exactly")
    t.add_argument("--sigma-mode", choices=["fixed", "learned", "decay"], default="learned")
    t.add_argument("--sigma-min", type=float, default=0.02, help="exploration std lower bound (normalised units)")
    t.add_argument("--sigma-max", type=float, default=0.06, help="exploration std upper bound (normalised units)")
    t.add_argument("--lr", type=float, default=3e-6, help="actor (velocity field) learning rate")
    t.add_argument("--noise-lr", type=float, default=3e-4, help="noise head learning rate")
    t.add_argument("--critic-lr", type=float, default=1e-3)
    t.add_argument("--critic-warmup", type=int, default=2, help="first iterations update only the critic")
    t.add_argument("--reward", choices=["success", "shaped", "env"], default="success",
                   help="sparse success; + potential-based lift shaping; or the env's dense reward")
    t.add_argument("--shaping-coef", type=float, default=0.1)
    t.add_argument("--ratio", choices=["chain", "mean", "element"], default="element",
                   help="PPO ratio: one per decision over the chain (sum or mean log-prob) or per coordinate")  # fmt: skip
    t.add_argument("--clip", type=float, default=0.2)
    t.add_argument("--epochs", type=int, default=4)
    t.add_argument("--minibatches", type=int, default=4)
    t.add_argument("--target-kl", type=float, default=0.01, help="per-coordinate KL early stop (<=0: off)")
    t.add_argument("--entropy-coef", type=float, default=0.0)
    t.add_argument("--truncation", choices=["bootstrap", "terminal"], default="bootstrap",
                   help="time-limit ends: bootstrap V(final obs), or treat as terminal (the critic reads the time)")
    t.add_argument("--gamma", type=float, default=0.99, help="discount per decision")
    t.add_argument("--lam", type=float, default=0.95)
    t.add_argument("--eval-every", type=int, default=0, help="held-out eval every N iterations (0: at the end)")
    t.add_argument("--eval-episodes", type=int, default=50)
    t.add_argument("--eval-seed", type=int, default=1000, help="first held-out seed (lerobot-eval's default)")
    t.add_argument("--eval-initial", action="store_true",
                   help="also evaluate the starting policy (with the chain's K) as iteration 0 (the BC baseline)")
    t.add_argument("--video-every", type=int, default=0, help="eval videos every N iterations (0: none)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu")
    t.add_argument("--no-progress", action="store_true")

    s = sub.add_parser("stats", help="print a run's per-iteration statistics (and refresh success.png)")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--json", action="store_true", help="print the rows as JSON")

    b = sub.add_parser("bc", help="fast in-memory BC of a state-only flow_mlp (same loss as lerobot-train)")
    b.add_argument("--dataset.root", dest="dataset_root", type=Path, required=True)
    b.add_argument("--dataset.repo_id", dest="repo_id", default="local/so101_sim_lift")
    b.add_argument("--output", type=Path, required=True, help="checkpoint directory to create")
    b.add_argument("--steps", type=int, default=3000)
    b.add_argument("--batch-size", type=int, default=256)
    b.add_argument("--lr", type=float, default=1e-3)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--chunk-size", type=int, default=20)
    b.add_argument("--n-action-steps", type=int, default=10)
    b.add_argument("--no-progress", action="store_true")


def _train(args: argparse.Namespace) -> int:
    from so101_sim.rl.ppo import PPOConfig
    from so101_sim.rl.trainer import TrainConfig, Trainer

    if args.resume is not None:
        cfg_path = args.resume / "train_config.json"
        if not cfg_path.is_file():
            raise SystemExit(f"--resume {args.resume}: {cfg_path} not found")
        cfg = TrainConfig.from_json(json.loads(cfg_path.read_text()))
        cfg.iterations = args.iterations
        cfg.output_dir = str(args.resume)
        cfg.progress = not args.no_progress
        trainer = Trainer(cfg, resume=True)
    else:
        if not args.policy_path:
            raise SystemExit("so101-sim rl train: pass --policy.path=<BC checkpoint> (or --resume DIR)")
        cfg = TrainConfig(
            policy_path=args.policy_path, output_dir=str(args.output_dir or Path("outputs/rl") / args.task),
            task=args.task, n_envs=args.n_envs, iterations=args.iterations, decisions=args.decisions,
            episode_length=args.episode_length, n_exec=args.n_exec, denoise_steps=args.denoise_steps,
            noisy_steps=args.noisy_steps,
            sigma_mode=args.sigma_mode, sigma_min=args.sigma_min, sigma_max=args.sigma_max, actor_lr=args.lr,
            noise_lr=args.noise_lr, critic_lr=args.critic_lr, critic_warmup=args.critic_warmup, reward=args.reward,
            shaping_coef=args.shaping_coef,
            ppo=PPOConfig(
                gamma=args.gamma, lam=args.lam, clip=args.clip, ratio_mode=args.ratio, epochs=args.epochs,
                minibatches=args.minibatches, target_kl=args.target_kl if args.target_kl > 0 else None,
                entropy_coef=args.entropy_coef, truncation=args.truncation,
            ),
            seed=args.seed, eval_every=args.eval_every, eval_episodes=args.eval_episodes, eval_seed=args.eval_seed,
            video_every=args.video_every, eval_initial=args.eval_initial, device=args.device, progress=not args.no_progress,
        )  # fmt: skip
        trainer = Trainer(cfg)
    summary = trainer.train()
    print(f"checkpoint: {summary['checkpoint']}")
    print(f"  lerobot-eval --policy.path={summary['checkpoint']} --env.type=so101 --env.task={cfg.task}")
    print(json.dumps(summary))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from so101_sim.rl.stats import format_table, plot_success, read_stats

    rows = read_stats(args.run_dir)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(format_table(rows))
        if rows:
            print(f"plot: {plot_success(args.run_dir, rows)}")
    return 0


def _bc(args: argparse.Namespace) -> int:
    from so101_sim.rl.bc import BCOptions, train_bc

    out = train_bc(
        BCOptions(
            dataset_root=args.dataset_root, repo_id=args.repo_id, output=args.output, steps=args.steps,
            batch_size=args.batch_size, lr=args.lr, seed=args.seed, progress=not args.no_progress,
            policy_overrides={"chunk_size": args.chunk_size, "n_action_steps": args.n_action_steps},
        )
    )
    print(f"wrote flow_mlp checkpoint {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"train": _train, "stats": _stats, "bc": _bc}[args.rl_command](args)
