"""``so101-sim rlinf``: distributed RL of the SO-101 sim through RLinf (optional extra ``so101-sim[rlinf]``).

    so101-sim rlinf train --config_name so101_ppo_mlp_state [--num_envs N --max_epochs E --seed S]
    so101-sim rlinf train --config_name so101_ppo_smolvla_flow_noise --model_path CKPT
    so101-sim rlinf train --list_tasks
    so101-sim rlinf play  --config_name ... --model_path CKPT [--checkpoint RUN/.../global_step_N] --video
    so101-sim rlinf init-checkpoint --policy smolvla --size tiny DIR     (random weights, for smoke runs)

The flags are those of Isaac Lab 3.0's ``train_rlinf.py`` / ``play_rlinf.py``; see docs/rlinf.md.
"""

from __future__ import annotations

import argparse
import json

NAME = "rlinf"
HELP = "distributed RL through RLinf (Ray + FSDP): train, play, list tasks (needs so101-sim[rlinf])"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config_path", default=None, help="directory of Hydra configs (default: the shipped ones)")
    p.add_argument("--config_name", default=None, help="config file name without .yaml (see --list_configs)")
    p.add_argument("--task", default=None, help="RLinf task id, e.g. SO101-Lift-MuJoCo-v0 (see --list_tasks)")
    p.add_argument("--num_envs", type=int, default=None, help="parallel envs (overrides the config)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--model_path", default=None, help="base model: a LeRobot pretrained_model dir (flow-noise configs)")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. algorithm.update_epoch=2")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="rlinf_command", required=True, metavar="SUBCOMMAND")
    t = sub.add_parser("train", help="train with RLinf (Ray workers: env, rollout, actor)")
    _common(t)
    t.add_argument("--max_epochs", type=int, default=None, help="RL epochs (rollout + update)")
    t.add_argument("--resume_dir", default=None, help="RLinf checkpoint dir to resume (.../checkpoints/global_step_N)")
    t.add_argument("--only_eval", action="store_true", help="only evaluate (runner.only_eval)")
    t.add_argument("--list_tasks", action="store_true", help="print the RLinf task ids registered here and exit")
    t.add_argument("--list_configs", action="store_true", help="print the shipped configs and exit")
    t.add_argument("--logger", choices=["tensorboard", "wandb", "swanlab"], default=None)
    t.add_argument("--experiment_name", default=None, help="runner.logger.experiment_name (checkpoint sub-directory)")
    t.add_argument(
        "--run_name", default=None, help="suffix of the run directory logs/rlinf/<timestamp>-<task>-<run_name>"
    )
    t.add_argument("--validate_only", action="store_true", help="compose, register and validate_cfg, then exit")
    t.add_argument("--assume_gpus", type=int, default=0, metavar="N",
                   help="with --validate_only: validate against N GPUs per node without them (a CPU check of a "
                        "multi-GPU placement; nothing is launched)")  # fmt: skip

    y = sub.add_parser("play", help="run the (RL'd) policy deterministically; count true success; videos; export")
    _common(y)
    y.add_argument("--checkpoint", default=None, help="RLinf checkpoint (global_step_N dir or full_weights.pt)")
    y.add_argument("--num_episodes", type=int, default=16)
    y.add_argument("--video", action="store_true", help="write MP4s of the main camera per episode")
    y.add_argument(
        "--export", default=None, metavar="DIR", help="write the policy as a LeRobot checkpoint (flow-noise)"
    )
    y.add_argument("--device", default=None, help="cpu / cuda (default: cuda when available)")

    c = sub.add_parser("init-checkpoint", help="write a random-weight flow_mlp or SmolVLA checkpoint (offline)")
    c.add_argument("output", help="checkpoint directory to create")
    c.add_argument("--policy", choices=["flow_mlp", "smolvla"], default="smolvla")
    c.add_argument("--size", choices=["tiny", "500m"], default="tiny", help="SmolVLM dimensions (random weights)")
    c.add_argument("--image_size", type=int, default=128)
    c.add_argument("--chunk_size", type=int, default=20)
    c.add_argument("--n_action_steps", type=int, default=10)


def _train(args: argparse.Namespace) -> int:
    from so101_sim.rlinf.launch import TrainOptions, shipped_configs, train

    if args.list_configs:
        print("\n".join(shipped_configs()))
        return 0
    if args.list_tasks:
        from rlinf.envs.isaaclab import REGISTER_ISAACLAB_ENVS

        from so101_sim.rlinf.ext import register

        register()
        for task_id, cls in sorted(REGISTER_ISAACLAB_ENVS.items()):
            print(f"{task_id}\t{cls.__module__}.{cls.__qualname__}")
        return 0
    if not args.config_name:
        raise SystemExit("so101-sim rlinf train: --config_name is required (see --list_configs)")
    opts = TrainOptions(
        config_name=args.config_name, config_path=args.config_path, task=args.task, num_envs=args.num_envs,
        seed=args.seed, model_path=args.model_path, max_epochs=args.max_epochs, resume_dir=args.resume_dir,
        only_eval=args.only_eval, logger=args.logger, experiment_name=args.experiment_name, run_name=args.run_name,
        overrides=list(args.overrides), validate_only=args.validate_only or bool(args.assume_gpus),
        assume_gpus=args.assume_gpus,
    )  # fmt: skip
    print(json.dumps(train(opts), indent=1))
    return 0


def _play(args: argparse.Namespace) -> int:
    from so101_sim.rlinf.launch import PlayOptions, play

    if not args.config_name:
        raise SystemExit("so101-sim rlinf play: --config_name is required")
    opts = PlayOptions(
        config_name=args.config_name, config_path=args.config_path, task=args.task, model_path=args.model_path,
        checkpoint=args.checkpoint, num_envs=args.num_envs or 8, num_episodes=args.num_episodes,
        seed=1000 if args.seed is None else args.seed, video=args.video, export=args.export, device=args.device,
        overrides=list(args.overrides),
    )  # fmt: skip
    print(json.dumps(play(opts), indent=1))
    return 0


def _init_checkpoint(args: argparse.Namespace) -> int:
    from so101_sim.rlinf.checkpoints import write_random_checkpoint

    out = write_random_checkpoint(
        args.output, args.policy, size=args.size, image_size=args.image_size, chunk_size=args.chunk_size,
        n_action_steps=args.n_action_steps,
    )  # fmt: skip
    print(f"wrote random {args.policy} checkpoint {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        import rlinf  # noqa: F401
    except ImportError as exc:
        if args.rlinf_command != "init-checkpoint":
            raise SystemExit(f"so101-sim rlinf needs RLinf: pip install 'so101-sim[rlinf]' ({exc})") from exc
    return {"train": _train, "play": _play, "init-checkpoint": _init_checkpoint}[args.rlinf_command](args)
