"""``so101-sim run``: run a policy in the simulation, in-process (``--policy``) or remote (``--server``).

The policy is queried once every ``--action_horizon`` steps for an action chunk, for all worlds of the
vector env at once; each chunk goes through :func:`so101_sim.adapters.action_chunk_to_env_actions` (crop,
unit conversion, clip to the env's action space). In-process and remote runs share one code path (the
protocol's request/reply handling, minus the socket for ``--policy``), so their results are comparable.
Ends with a per-episode table and one JSON line, as ``so101-sim rollout`` does (see docs/serving.md).

Against a GR00T server no mapping is needed: the request is built from the server's modality config (its
generation, camera names mapped to the scene's cameras, state keys, language key, frame history). Every failure
(no server, a refused token, a pickle-based or otherwise wrong protocol, a camera the scene lacks, a server error
in the middle of an episode) ends with one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

NAME = "run"
HELP = "Run a policy (in-process --policy, or a GR00T-protocol --server host:port) in a task; prints a table and JSON."

ENV_STATE_KEY = "environment_state"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--policy", help="in-process policy: a local pretrained dir, a Hub repo id, or a policy type")
    src.add_argument("--server", help="remote policy server host:port (Isaac-GR00T protocol, e.g. so101-sim serve)")
    p.add_argument("--task", default=None, help="task id (mujoco: Lift-v0 ...; isaac: Isaac-SO-ARM101-Lift-Cube-v0)")
    p.add_argument("--backend", default="mujoco", choices=["mujoco", "isaac"])
    p.add_argument("--num_envs", type=int, default=1, help="worlds stepped together (one batched policy call)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--max_steps", type=int, default=None, help="episode length in control steps (default: task's)")
    p.add_argument("--action_horizon", type=int, default=None, help="actions executed per policy call (default: all)")
    p.add_argument("--instruction", default=None, help="language instruction (default: the task's)")
    p.add_argument("--seed", type=int, default=0, help="episode i uses seed + i")
    p.add_argument("--headless", action="store_true", help="no viewer window (always so without a display)")
    p.add_argument("--robot_name", default=None, help="robot (isaac: the scene's articulation name; mujoco: so101)")
    p.add_argument("--ee_link_name", default=None, help="end-effector link/site (default: gripper frame)")
    p.add_argument("--no_ee_in_obs", action="store_true", help="do not add ee_pos/ee_quat to the observation")
    p.add_argument("--video", default=None, help="mp4 path: records world 0 for the first --video-episodes batches")
    p.add_argument("--video-episodes", type=int, default=1)
    p.add_argument("--cameras", default=None, help="env cameras, comma separated (default: what the policy needs)")
    p.add_argument("--image-size", type=int, default=256, help="camera size when the policy does not say (square)")
    p.add_argument("--units", default="lerobot", help="joint units of the env: lerobot, lerobot_range, radians")
    p.add_argument("--policy-units", default=None, help="joint units the policy was trained in (default: --units)")
    p.add_argument("--mapping", default=None, help="observation/action mapping file (YAML/JSON), as for serve")
    p.add_argument(
        "--protocol", default="auto", choices=["auto", "n1.5", "n1.6"],
        help="--server: GR00T protocol generation (auto: detected from the modality config; n1.6 covers N1.7)",
    )  # fmt: skip
    p.add_argument(
        "--camera-map", default=None, metavar="SERVER=ENV,...",
        help="--server: server camera -> scene camera (default front/top/scene_camera -> camera1, wrist -> camera2)",
    )  # fmt: skip
    p.add_argument("--api-token", default=os.environ.get("SO101_SIM_API_TOKEN"), help="token for --server")
    p.add_argument("--timeout-ms", type=int, default=60000, help="--server: per-request timeout")
    p.add_argument("--device", default=None, help="--policy: cpu/cuda (default cuda if available); isaac: sim device")


# ------------------------------------------------------------------------------------------------------------------
# Policy side
# ------------------------------------------------------------------------------------------------------------------


def _is_policy_type(name: str) -> bool:
    if os.path.exists(name):
        return False
    from lerobot.configs.policies import PreTrainedConfig

    from so101_sim.serving.lerobot_policy import _import_project_policies

    _import_project_policies()
    return name in PreTrainedConfig.get_known_choices()


def make_policy_client(args: argparse.Namespace, mapping: Any, cameras: list[str] | None) -> Any:
    """``--server`` -> a network client; ``--policy`` -> the same API over an in-process policy."""
    from so101_sim.serving.client import LocalPolicyClient, PolicyClient, PolicyServerError

    if args.server:
        client = PolicyClient.from_address(
            args.server, timeout_ms=args.timeout_ms, api_token=args.api_token, mapping=mapping,
            protocol=args.protocol,
        )  # fmt: skip
        try:
            if not client.ping():
                raise RunError(f"no policy server answers at {args.server} (waited {args.timeout_ms} ms)")
        except PolicyServerError as e:
            client.close()
            if e.unauthorized:
                given = "wrong token" if args.api_token else "none given"
                raise RunError(
                    f"the policy server at {args.server} refused the api token ({given}): pass --api-token or set "
                    "SO101_SIM_API_TOKEN"
                ) from None
            raise RunError(str(e)) from None  # it answered, in a way we cannot use (e.g. the pickle protocol)
        except RunError:
            client.close()
            raise
        return client
    from so101_sim.serving.lerobot_policy import load_policy
    from so101_sim.serving.server import PolicyService

    device = args.device
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if _is_policy_type(args.policy):
        policy = load_policy(
            policy_type=args.policy,
            device=device,
            mapping=mapping,
            image_size=(args.image_size, args.image_size),
            cameras=cameras if cameras is not None else [],
        )
    else:
        policy = load_policy(path=args.policy, device=device)
    return LocalPolicyClient(PolicyService(policy, mapping), mapping)


class RunError(Exception):
    """A failure the user can fix: printed as one ``error:`` line, exit status 2."""


def scene_cameras(backend: str) -> tuple[str, ...]:
    """The cameras the backend's scene has."""
    if backend == "isaac":
        from so101_sim.isaac import CAMERAS

        return tuple(CAMERAS)
    from so101_sim.cameras import CAMERAS

    return tuple(CAMERAS)


def policy_cameras(client: Any, args: argparse.Namespace) -> dict[str, tuple[int, int]]:
    """Scene cameras the policy needs, with their resolution: from the server when it says, else --image-size."""
    try:
        return client.required_cameras(scene_cameras(args.backend), (args.image_size, args.image_size))
    except KeyError as e:
        raise RunError(e.args[0]) from None


def parse_camera_map(text: str | None) -> dict[str, str]:
    """``front=camera1,wrist=camera2`` -> {"front": "camera1", "wrist": "camera2"}."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise RunError(f"--camera-map takes SERVER_CAMERA=SCENE_CAMERA pairs, got {item!r}")
        out[key.strip()] = value.strip()
    return out


# ------------------------------------------------------------------------------------------------------------------
# Env side
# ------------------------------------------------------------------------------------------------------------------


def make_env(args: argparse.Namespace, cameras: dict[str, tuple[int, int]]) -> Any:
    from so101_sim.env_lerobot import make_vector_env

    kwargs: dict[str, Any] = {"units": args.units, "instruction": args.instruction}
    if args.max_steps:
        kwargs["episode_length"] = args.max_steps
    if args.backend == "isaac":
        sizes = set(cameras.values()) or {(args.image_size, args.image_size)}
        if len(sizes) > 1:
            raise RunError(f"the isaac backend renders every camera at one size, the policy wants {cameras}")
        kwargs.update(
            cameras=tuple(cameras),
            image_size=next(iter(sizes)),
            add_ee_to_obs=not args.no_ee_in_obs,
            launch_app=True,
            headless=args.headless,
        )
        if args.robot_name:
            kwargs["robot_name"] = args.robot_name
        if args.ee_link_name:
            kwargs["ee_link_name"] = args.ee_link_name
        if args.device:
            kwargs["device"] = args.device
        return make_vector_env(args.task, args.num_envs, backend="isaac", **kwargs)
    if args.robot_name not in (None, "so101", "so101_follower"):
        raise RunError(f"the mujoco backend simulates the SO-101 only, got --robot_name {args.robot_name!r}")
    display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    kwargs.update(
        cameras=tuple(cameras),
        image_size=dict(cameras),
        render_mode="rgb_array" if args.headless or not display or args.num_envs > 1 else "human",
    )
    return make_vector_env(args.task, args.num_envs, backend="mujoco", **kwargs)


class VectorEEPose:
    """``ee_pos``/``ee_quat`` (B, 3)/(B, 4) of every MuJoCo world of a SyncVectorEnv (Isaac adds its own)."""

    def __init__(self, env: Any, link_name: str | None) -> None:
        self.sources = [e.unwrapped.ee_pose_source(link_name) for e in env.envs]

    def add(self, obs: dict[str, Any]) -> dict[str, Any]:
        poses = [s.link_pose() for s in self.sources]
        obs = dict(obs)
        obs["ee_pos"] = np.concatenate([p for p, _ in poses]).astype(np.float32)
        obs["ee_quat"] = np.concatenate([q for _, q in poses]).astype(np.float32)
        return obs


def _state_keys_wanted(client: Any) -> list[str]:
    return list(client.spec().state_keys)


def _ee_keys(env: Any, args: argparse.Namespace) -> dict[str, int]:
    """End-effector vectors the env can provide per world (none with --no_ee_in_obs)."""
    if args.no_ee_in_obs:
        return {}
    if args.backend == "mujoco":
        return {"ee_pos": 3, "ee_quat": 4}
    spaces = getattr(env.single_observation_space, "spaces", {})
    return {k: int(np.prod(spaces[k].shape)) for k in ("ee_pos", "ee_quat", "ee_pos_delta") if k in spaces}


def _env_description(env: Any, cameras: dict[str, tuple[int, int]], args: argparse.Namespace) -> Any:
    from so101_sim.serving.client import EnvDescription

    space = env.single_observation_space
    env_state = space.spaces.get(ENV_STATE_KEY) if hasattr(space, "spaces") else None
    return EnvDescription(
        cameras=dict(cameras),
        state_dim=int(space["agent_pos"].shape[-1]),
        action_dim=int(env.single_action_space.shape[0]),
        env_state_dim=int(np.prod(env_state.shape)) if env_state is not None else None,
        extra_state=_ee_keys(env, args),
    )


# ------------------------------------------------------------------------------------------------------------------
# The loop
# ------------------------------------------------------------------------------------------------------------------


def _final_success(info: dict[str, Any], i: int) -> bool:
    final = info.get("final_info")
    if isinstance(final, dict) and "is_success" in final:
        return bool(np.asarray(final["is_success"])[i])
    return bool(np.asarray(info.get("is_success", np.zeros(i + 1)))[i])


def run_policy(env: Any, client: Any, args: argparse.Namespace, progress=None) -> Any:
    """Run ``args.episodes`` episodes in batches of ``num_envs`` worlds; returns a RolloutResult."""
    from so101_sim import adapters
    from so101_sim.rollout import RolloutResult, VideoWriter, tile_frames
    from so101_sim.serving.history import ObservationHistory

    n = env.num_envs
    wants_env_state = client.server_wants_env_state()
    spec = client.spec()
    history = ObservationHistory(spec.video_deltas, spec.state_deltas)
    # End-effector vectors go to the policy when it lists them among its state keys (and --no_ee_in_obs is off).
    available = _ee_keys(env, args)
    extra_keys = [k for k in _state_keys_wanted(client) if k in available]
    ee = VectorEEPose(env, args.ee_link_name) if extra_keys and args.backend == "mujoco" else None
    low = np.asarray(env.single_action_space.low, dtype=np.float64)
    high = np.asarray(env.single_action_space.high, dtype=np.float64)
    action_dim = int(env.single_action_space.shape[0])
    result = RolloutResult()
    writer = VideoWriter(args.video, env.metadata.get("render_fps", 30)) if args.video else None
    to_policy = {"from_units": args.units, "to_units": args.policy_units or args.units}
    t0, total_steps = time.perf_counter(), 0
    try:
        for batch in range((args.episodes + n - 1) // n):
            wanted = min(n, args.episodes - batch * n)
            seeds = [args.seed + batch * n + i for i in range(n)]
            obs, info = env.reset(seed=seeds)
            client.reset()
            history.reset()
            task = args.instruction or list(env.call("task_description"))
            done = np.zeros(n, dtype=bool)
            done[wanted:] = True  # worlds beyond the requested episode count run along unrecorded
            returns, lengths, success = np.zeros(n), np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
            chunk, used = None, 0
            record = writer is not None and batch < args.video_episodes
            while not done.all():
                if ee is not None:
                    obs = ee.add(obs)
                step = {f"pixels.{c}": v for c, v in obs.get("pixels", {}).items()}
                step["agent_pos"] = adapters.convert_joint_units(obs["agent_pos"], **to_policy)
                if wants_env_state:
                    step[ENV_STATE_KEY] = np.asarray(obs[ENV_STATE_KEY], dtype=np.float32).reshape(n, -1)
                step.update({k: obs[k] for k in extra_keys if k in obs})
                history.push(step)
                if (
                    record
                    and not done[0]
                    and (frame := tile_frames({"pixels": {c: v[0] for c, v in obs.get("pixels", {}).items()}}))
                    is not None
                ):
                    writer.add(frame)
                horizon = chunk.shape[1] if chunk is not None else 0
                if args.action_horizon:
                    horizon = min(horizon, args.action_horizon)
                if chunk is None or used >= horizon:
                    vd, sd = spec.video_deltas, spec.state_deltas
                    chunk = client.get_action_chunk(
                        {c: history.gather(f"pixels.{c}", vd) for c in obs.get("pixels", {})},
                        history.gather("agent_pos", sd),
                        task,
                        env_state=history.gather(ENV_STATE_KEY, sd) if wants_env_state else None,
                        extra_state={k: history.gather(k, sd) for k in extra_keys if k in obs},
                    )
                    chunk = adapters.action_chunk_to_env_actions(
                        chunk,
                        action_dim=action_dim,
                        low=low,
                        high=high,
                        policy_units=to_policy["to_units"],
                        env_units=args.units,
                    )
                    used = 0
                action = chunk[:, used]
                used += 1
                obs, reward, terminated, truncated, info = env.step(action)
                live = ~done
                returns[live] += np.asarray(reward, dtype=np.float64)[live]
                lengths[live] += 1
                step_success = np.asarray(info.get("is_success", np.zeros(n)), dtype=bool)
                ended = (np.asarray(terminated) | np.asarray(truncated)) & live
                for i in np.flatnonzero(live):
                    if ended[i]:
                        success[i] |= _final_success(info, i)
                    else:
                        success[i] |= bool(step_success[i])
                for i in np.flatnonzero(ended):
                    done[i] = True
                    row = {
                        "episode": batch * n + int(i),
                        "seed": seeds[i],
                        "success": bool(success[i]),
                        "length": int(lengths[i]),
                        "return": float(returns[i]),
                    }
                    result.per_episode.append(row)
                    if progress:
                        progress(row)
                total_steps += int(live.sum())
    except BaseException:
        if writer is not None:
            writer.discard()  # a partial video never takes the target's name
        raise
    if writer is not None:
        writer.close()
    result.per_episode.sort(key=lambda r: r["episode"])
    result.steps_per_second = total_steps / max(time.perf_counter() - t0, 1e-9)
    return result


def run(args: argparse.Namespace) -> int:
    """The command: every user-fixable failure is one ``error:`` line on stderr and exit status 2."""
    from so101_sim.serving.client import PolicyServerError
    from so101_sim.serving.wire import ProtocolError

    try:
        return _run(args)
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
    except PolicyServerError as e:
        print(f"error: {e}", file=sys.stderr)
    except (ProtocolError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from so101_sim.rollout import json_line
    from so101_sim.serving.client import PolicyServerError
    from so101_sim.serving.mapping import ProtocolMapping

    if args.episodes < 1 or args.num_envs < 1:
        raise RunError("--episodes and --num_envs must be >= 1")
    if args.action_horizon is not None and args.action_horizon < 1:
        raise RunError("--action_horizon must be >= 1")
    if args.task is None:
        from so101_sim.isaac import DEFAULT_TASK

        args.task = DEFAULT_TASK if args.backend == "isaac" else "Lift-v0"
    try:
        mapping = ProtocolMapping.from_file(args.mapping) if args.mapping else ProtocolMapping()
    except (ValueError, TypeError) as e:
        raise RunError(str(e)) from None
    camera_map = parse_camera_map(args.camera_map)
    if camera_map:
        mapping.video = {**(mapping.video or {}), **camera_map}
    requested = None if args.cameras is None else [c for c in args.cameras.split(",") if c and c != "none"]
    client = make_policy_client(args, mapping, requested)
    env = None
    try:
        cameras = policy_cameras(client, args)
        for cam in requested or []:
            cameras.setdefault(cam, (args.image_size, args.image_size))
        if args.video and not cameras:
            cameras["camera3" if args.backend == "mujoco" else "camera1"] = (args.image_size, args.image_size)
        env = make_env(args, cameras)
        client.ensure_compatible(_env_description(env, cameras, args))
        bar = tqdm(total=args.episodes, desc=args.task, unit="ep", file=sys.stderr)

        def progress(row: dict[str, Any]) -> None:
            bar.update(1)
            bar.set_postfix(success=row["success"])

        try:
            result = run_policy(env, client, args, progress)
        except PolicyServerError as e:
            raise RunError(f"the policy failed during the episodes: {e}") from None
        finally:
            bar.close()
    finally:
        if env is not None:
            env.close()
        client.close()
    print(result.table())
    if args.video:
        print(f"video: {args.video}")
    source = {"server": args.server} if args.server else {"policy": args.policy}
    print(json_line(result, task=args.task, backend=args.backend, **source))
    return 0
