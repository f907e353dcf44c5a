"""``so101-sim rlinf train`` / ``play``: RLinf runs of the SO-101 sim, with Isaac Lab 3.0's RLinf flags.

Train: compose the Hydra config (ours under ``so101_sim/rlinf/configs`` unless ``--config_path``), apply the
flags, write the composed config to ``logs/rlinf/<timestamp>-<task>/config.yaml`` (``RLINF_CONFIG_FILE``), call
:func:`so101_sim.rlinf.ext.register` on the driver (Ray workers call it through ``RLINF_EXT_MODULE``), run RLinf's
``validate_cfg`` and then the standard RLinf wiring (``Cluster`` -> ``HybridComponentPlacement`` -> actor, rollout
and env worker groups -> ``EmbodiedRunner``). Logs, TensorBoard/W&B/SwanLab and checkpoints land in the run
directory; ``scalars.csv`` and ``summary.json`` (success, env steps/s, rollout/update split) are written at the end.

Play: RLinf's env class and model in this process (no Ray, CPU or one GPU): ``num_episodes`` episodes with true
success counted, optional MP4s of the main camera, and ``--export`` to an ordinary LeRobot checkpoint for the
flow-noise policies (``lerobot-eval --policy.path=...``).
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
EXT_MODULE = "so101_sim.rlinf.ext"
LOGGERS = ("tensorboard", "wandb", "swanlab")


@dataclass
class TrainOptions:
    config_name: str = "so101_ppo_mlp_state"
    config_path: str | None = None
    task: str | None = None
    num_envs: int | None = None
    seed: int | None = None
    model_path: str | None = None
    max_epochs: int | None = None
    resume_dir: str | None = None
    only_eval: bool = False
    logger: str | None = None
    experiment_name: str | None = None
    run_name: str | None = None
    overrides: list[str] = field(default_factory=list)
    log_root: str = "logs/rlinf"
    validate_only: bool = False
    assume_gpus: int = 0  # with validate_only: check the placement against this many GPUs per node (offline)


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def compose(config_name: str, config_path: str | None = None, overrides: list[str] | None = None):
    """The composed Hydra config (``config_path`` defaults to the shipped configs)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    cdir = Path(config_path or CONFIG_DIR).resolve()
    if not (cdir / f"{config_name}.yaml").is_file():
        have = sorted(p.stem for p in cdir.glob("*.yaml"))
        raise FileNotFoundError(f"{cdir / (config_name + '.yaml')} not found; configs there: {have}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(cdir), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides or []))


def apply_options(cfg, opts: TrainOptions, log_dir: Path) -> None:
    """The CLI flags onto the composed config (the same fields Isaac Lab's ``train_rlinf.py`` sets)."""
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.runner.logger.log_path = str(log_dir)
        if opts.task:
            cfg.env.train.init_params.id = opts.task
            if cfg.env.get("eval") is not None:
                cfg.env.eval.init_params.id = opts.task
        if opts.num_envs is not None:
            cfg.env.train.total_num_envs = opts.num_envs
            if cfg.env.get("eval") is not None:
                cfg.env.eval.total_num_envs = opts.num_envs
        if opts.seed is not None:
            cfg.actor.seed = opts.seed
            cfg.env.train.seed = opts.seed
        if opts.max_epochs is not None:
            cfg.runner.max_epochs = opts.max_epochs
        if opts.model_path is not None:
            cfg.actor.model.model_path = str(Path(opts.model_path).resolve())
            cfg.rollout.model.model_path = str(Path(opts.model_path).resolve())
        if opts.resume_dir is not None:
            cfg.runner.resume_dir = str(Path(opts.resume_dir).resolve())
        if opts.only_eval:
            cfg.runner.only_eval = True
        if opts.logger is not None:
            if opts.logger not in LOGGERS:
                raise ValueError(f"--logger must be one of {LOGGERS}, got {opts.logger!r}")
            cfg.runner.logger.logger_backends = [opts.logger]
        if opts.experiment_name:
            cfg.runner.logger.experiment_name = opts.experiment_name


def run_dir(log_root: str, task: str, run_name: str | None = None) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{task.replace('/', '_')}" + (f"-{run_name}" if run_name else "")
    path = Path(log_root) / name
    path.mkdir(parents=True, exist_ok=False)
    return path


def prepare(opts: TrainOptions, validate: bool = True):
    """Compose, apply flags, write ``config.yaml``, register, validate. Returns (cfg, log_dir)."""
    from omegaconf import OmegaConf

    os.environ.setdefault("RLINF_EXT_MODULE", EXT_MODULE)
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    cfg = compose(opts.config_name, opts.config_path, opts.overrides)
    task = str(opts.task or cfg.env.train.init_params.id)
    log_dir = run_dir(opts.log_root, task, opts.run_name).resolve()
    apply_options(cfg, opts, log_dir)
    config_file = log_dir / "config.yaml"
    _atomic_write(config_file, OmegaConf.to_yaml(cfg, resolve=False))
    os.environ["RLINF_CONFIG_FILE"] = str(config_file)

    import rlinf  # noqa: F401 - registers RLinf's OmegaConf resolvers
    from rlinf.config import validate_cfg

    from so101_sim.rlinf.ext import register

    register()
    return (validate_cfg(cfg) if validate else cfg), log_dir


class GpuClusterStandIn:
    """What RLinf's config validation and placement read from its ``Cluster`` singleton, for a GPU cluster this
    machine does not have (``nodes`` x ``gpus_per_node`` NVIDIA GPUs), built from RLinf's own node dataclasses.

    Used only by :func:`validate_offline` (``--validate_only --assume_gpus N``): RLinf's real ``Cluster`` probes the
    local GPUs through Ray, so a CPU machine cannot otherwise check a multi-GPU placement.
    """

    def __init__(self, nodes: int, gpus_per_node: int, model: str = "NV_GPU:H200") -> None:
        import sys

        from rlinf.scheduler.cluster.node import NodeGroupInfo, NodeInfo
        from rlinf.scheduler.hardware.accelerators.accelerator import Accelerator
        from rlinf.scheduler.hardware.hardware import HardwareInfo, HardwareResource

        hw = Accelerator.HW_TYPE
        gpus = [HardwareResource(type=hw, infos=[HardwareInfo(type=hw, model=model)] * gpus_per_node)]
        self._nodes = [
            NodeInfo(
                node_labels=[NodeGroupInfo.DEFAULT_GROUP_LABEL],
                node_rank=r,
                ray_id=f"offline-{r}",
                node_ip="127.0.0.1",
                num_cpus=16,
                python_interpreter_path=sys.executable,
                default_env_vars={},
                env_vars={},
                hardware_resources=gpus,
            )
            for r in range(nodes)
        ]
        self._num_nodes = nodes
        self._node_groups = [
            NodeGroupInfo(label=NodeGroupInfo.DEFAULT_GROUP_LABEL, nodes=self._nodes, hardware_type=hw),
            NodeGroupInfo(label=NodeGroupInfo.NODE_PLACEMENT_GROUP_LABEL, nodes=self._nodes, ignore_hardware=True),
        ]

    num_nodes = property(lambda self: self._num_nodes)
    num_accelerators = property(lambda self: sum(n.num_accelerators for n in self._nodes))

    def get_node_group(self, label: str | None = None):
        label = "cluster" if label is None else str(label)
        return next((ng for ng in self._node_groups if ng.label == label), None)

    def get_node_info(self, node_rank: int):
        return self._nodes[node_rank]


def validate_offline(cfg, gpus: int, nodes: int = 1):
    """RLinf's ``validate_cfg`` against a stand-in cluster of ``nodes`` x ``gpus`` GPUs (no Ray, no GPU needed).

    Returns (validated cfg, {component: world size}). Only for checking configs: nothing is launched.
    """
    from rlinf.config import validate_cfg
    from rlinf.scheduler import Cluster
    from rlinf.utils.placement import HybridComponentPlacement

    if getattr(Cluster, "_instance", None) is not None:
        raise RuntimeError("validate_offline needs a process where RLinf's Cluster has not been started")
    standin = GpuClusterStandIn(nodes, gpus)
    Cluster._instance = standin  # Cluster.__new__ returns the singleton; a non-Cluster object skips __init__
    try:
        cfg = validate_cfg(cfg)
        placement = HybridComponentPlacement(cfg, standin)
        sizes = {c: placement.get_world_size(c) for c in ("env", "rollout", "actor")}
    finally:
        del Cluster._instance
    return cfg, sizes


def train(opts: TrainOptions) -> dict[str, Any]:
    if opts.assume_gpus:
        cfg, log_dir = prepare(opts, validate=False)
        _, sizes = validate_offline(cfg, opts.assume_gpus, int(cfg.cluster.num_nodes))
        return {"log_dir": str(log_dir), "validated": True, "assumed_gpus": opts.assume_gpus, "world_sizes": sizes}
    cfg, log_dir = prepare(opts)
    if opts.validate_only:
        return {"log_dir": str(log_dir), "validated": True}
    import torch.multiprocessing as mp
    from rlinf.runners.embodied_runner import EmbodiedRunner
    from rlinf.scheduler import Cluster
    from rlinf.utils.placement import HybridComponentPlacement
    from rlinf.workers.actor.fsdp_actor_worker import EmbodiedFSDPActor
    from rlinf.workers.env.env_worker import EnvWorker
    from rlinf.workers.rollout.hf.huggingface_worker import MultiStepRolloutWorker

    mp.set_start_method("spawn", force=True)
    cluster = Cluster(cluster_cfg=cfg.cluster)
    placement = HybridComponentPlacement(cfg, cluster)
    actor = EmbodiedFSDPActor.create_group(cfg).launch(
        cluster, name=cfg.actor.group_name, placement_strategy=placement.get_strategy("actor")
    )
    rollout = MultiStepRolloutWorker.create_group(cfg).launch(
        cluster, name=cfg.rollout.group_name, placement_strategy=placement.get_strategy("rollout")
    )
    env = EnvWorker.create_group(cfg).launch(
        cluster, name=cfg.env.group_name, placement_strategy=placement.get_strategy("env")
    )
    t0 = time.perf_counter()
    runner = EmbodiedRunner(cfg=cfg, actor=actor, rollout=rollout, env=env)
    runner.init_workers()
    t1 = time.perf_counter()
    runner.run()
    wall = time.perf_counter() - t1
    summary = summarize(log_dir, cfg, wall_s=wall, init_s=t1 - t0)
    return summary


# ---------------------------------------------------------------------------------------------- run summaries
def read_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every TensorBoard scalar under ``log_dir`` as {tag: [(step, value)]}."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for ev in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(ev), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((s.step, float(s.value)) for s in acc.Scalars(tag))
    return out


def summarize(log_dir: Path, cfg, wall_s: float, init_s: float) -> dict[str, Any]:
    """``scalars.csv`` (all scalars) and ``summary.json``: success per epoch, env steps/s, time split."""
    scalars = read_scalars(log_dir)
    rows = sorted({(tag, step, v) for tag, pts in scalars.items() for step, v in pts}, key=lambda r: (r[0], r[1]))
    tmp = log_dir / ".scalars.csv.tmp"
    with tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tag", "step", "value"])
        w.writerows(rows)
    os.replace(tmp, log_dir / "scalars.csv")

    def series(pattern: str) -> dict[str, list[float]]:
        return {t: [v for _, v in sorted(p)] for t, p in scalars.items() if pattern in t}

    epochs = int(cfg.runner.max_epochs)
    envs = int(cfg.env.train.total_num_envs)
    steps_per_epoch = envs * int(cfg.env.train.max_steps_per_rollout_epoch) * int(cfg.env.train.get("rollout_epoch", 1))
    summary = {
        "log_dir": str(log_dir),
        "epochs": epochs,
        "env_steps": steps_per_epoch * epochs,
        "wall_s": wall_s,
        "init_s": init_s,
        "env_steps_per_s": steps_per_epoch * epochs / max(wall_s, 1e-9),
        "decisions_per_s": steps_per_epoch * epochs / int(cfg.actor.model.num_action_chunks) / max(wall_s, 1e-9),
        "success": series("success"),
        "time": {t: float(sum(v) / len(v)) for t, v in series("time/").items() if v},
    }
    _atomic_write(log_dir / "summary.json", json.dumps(summary, indent=1))
    return summary


# ---------------------------------------------------------------------------------------------- play
@dataclass
class PlayOptions:
    config_name: str = "so101_ppo_mlp_state"
    config_path: str | None = None
    task: str | None = None
    model_path: str | None = None
    checkpoint: str | None = None
    num_envs: int = 8
    num_episodes: int = 16
    seed: int = 1000
    video: bool = False
    export: str | None = None
    device: str | None = None
    overrides: list[str] = field(default_factory=list)
    log_root: str = "logs/rlinf"


def _weights_file(path: str) -> Path:
    p = Path(path)
    for cand in (p, p / "full_weights.pt", p / "model_state_dict" / "full_weights.pt",
                 p / "actor" / "model_state_dict" / "full_weights.pt"):  # fmt: skip
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"--checkpoint {path}: no full_weights.pt (an RLinf global_step_N directory or the file)")


def play(opts: PlayOptions) -> dict[str, Any]:
    """Deterministic episodes of the (RL'd) policy with RLinf's env class and model, in this process."""
    import numpy as np
    import torch
    from omegaconf import open_dict
    from rlinf.envs import get_env_cls
    from rlinf.models import get_model

    from so101_sim.rlinf.ext import register

    register()
    cfg = compose(opts.config_name, opts.config_path, opts.overrides)
    env_cfg = cfg.env.get("eval") or cfg.env.train
    task = str(opts.task or env_cfg.init_params.id)
    out_dir = run_dir(opts.log_root, task, "play")
    model_cfg = cfg.actor.model
    with open_dict(cfg):
        env_cfg.init_params.id = task
        if opts.model_path:
            model_cfg.model_path = str(Path(opts.model_path).resolve())
        model_cfg.load_to_device = False
    model = get_model(model_cfg)
    device = torch.device(opts.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model.to(device)
    if opts.checkpoint:
        state = torch.load(_weights_file(opts.checkpoint), map_location=device, weights_only=True)
        model.load_state_dict(state)
    model.eval()
    if opts.export:
        if not hasattr(model, "export"):
            raise ValueError(
                f"--export: model type {model_cfg.model_type!r} has no LeRobot export (so101_flow_noise has)"
            )
        model.export(str(Path(opts.export).resolve()))
    env = get_env_cls(env_cfg.env_type, env_cfg)(
        cfg=env_cfg, num_envs=opts.num_envs, seed_offset=0, total_num_processes=1, worker_info=None
    )
    obs, _ = env.reset(seed=opts.seed)
    successes: list[bool] = []
    returns: list[float] = []
    frames: list[list[np.ndarray]] = [[] for _ in range(opts.num_envs)]
    videos: list[str] = []
    chunks = int(model_cfg.num_action_chunks)
    max_iters = 10 * opts.num_episodes * int(env_cfg.max_episode_steps) // max(1, chunks * opts.num_envs) + 10
    it = 0
    with torch.no_grad():
        while len(successes) < opts.num_episodes and it < max_iters:
            it += 1
            kwargs = {"mode": "eval"} if model_cfg.model_type == "mlp_policy" else {"do_sample": False}
            actions, _ = model.predict_action_batch(env_obs=obs, **kwargs)
            actions = torch.as_tensor(np.asarray(actions) if not isinstance(actions, torch.Tensor) else actions)
            obs_list, _, te, tr, infos = env.chunk_step(actions.reshape(opts.num_envs, chunks, -1).cpu())
            if opts.video and "main_images" in obs_list[0]:
                for o in obs_list:
                    for i in range(opts.num_envs):
                        frames[i].append(o["main_images"][i].cpu().numpy())
            done = (te | tr)[:, -1]
            last = infos[-1]
            for i in torch.nonzero(done).flatten().tolist():
                ep = last["final_info"]["episode"]
                if len(successes) < opts.num_episodes:
                    successes.append(bool(ep["success_once"][i]))
                    returns.append(float(ep["return"][i]))
                    if opts.video and frames[i]:
                        videos.append(_write_video(out_dir / "videos" / f"episode_{len(successes):03d}.mp4", frames[i]))
                frames[i] = []
            obs = obs_list[-1]
    env.close()
    if len(successes) < opts.num_episodes:
        raise RuntimeError(f"only {len(successes)} of {opts.num_episodes} episodes finished in {it} decisions")
    summary = {
        "task": task, "episodes": len(successes), "success_rate": float(np.mean(successes)),
        "mean_return": float(np.mean(returns)), "videos": videos, "log_dir": str(out_dir),
        "export": str(Path(opts.export).resolve()) if opts.export else None,
    }  # fmt: skip
    _atomic_write(out_dir / "summary.json", json.dumps(summary, indent=1))
    return summary


def _write_video(path: Path, frames: list) -> str:
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    imageio.mimwrite(str(tmp), frames, fps=30)
    os.replace(tmp, path)
    return str(path)
