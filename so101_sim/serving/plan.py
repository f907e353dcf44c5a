"""From a server's modality config to requests: what the server declares (:class:`ServerSpec`) and how one env's
observations are laid out for it (:class:`RequestPlan`), with every mismatch named.

Pure functions of the spec, the :class:`~so101_sim.serving.mapping.ProtocolMapping` overrides and an
:class:`EnvDescription`; :class:`~so101_sim.serving.client.PolicyClient` asks the server and calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from so101_sim.serving.mapping import FLAT_LANGUAGE_KEY, ProtocolMapping, resolve_camera, split_vector_keys
from so101_sim.serving.observation import RequestLayout
from so101_sim.serving.wire import ModalityConfig, ProtocolError

ENV_STATE_KEY = "environment_state"


@dataclass
class EnvDescription:
    """What an env provides, for :meth:`~so101_sim.serving.client.PolicyClient.check_compatibility`."""

    cameras: dict[str, tuple[int, int]]  # env camera name -> (H, W)
    state_dim: int
    action_dim: int
    env_state_dim: int | None = None  # values of environment_state per sample, when the env provides it
    extra_state: dict[str, int] = field(default_factory=dict)  # other per-world vectors, e.g. {"ee_pos": 3}


@dataclass
class ServerSpec:
    """What a server declares, keys without their N1.5 modality prefixes."""

    protocol: str  # "n1.5" | "n1.6" (N1.6 covers N1.7)
    so101_sim: bool  # ``so101-sim serve``: has get_features and reset
    cameras: list[str]
    video_deltas: list[int]
    state_keys: list[str]
    state_deltas: list[int]
    action_keys: list[str]
    action_deltas: list[int]
    language_key: str
    features: dict[str, Any] | None = None

    @classmethod
    def from_modality(
        cls, modality: dict[str, Any], so101_sim: bool, protocol: str | None, features: dict | None = None
    ) -> ServerSpec:
        configs = {k: v for k, v in modality.items() if isinstance(v, ModalityConfig)}
        if not configs:
            raise ProtocolError(f"get_modality_config answered no modality configs (got keys {sorted(modality)})")
        if protocol is None:
            prefixed = any(
                key.startswith(f"{name}.")
                for name, mc in configs.items()
                if name != "language"
                for key in mc.modality_keys
            )
            json_form = any(mc.wire_form == "json" for mc in configs.values())
            protocol = "n1.5" if json_form or prefixed else "n1.6"

        def keys(name: str) -> tuple[list[str], list[int]]:
            mc = configs.get(name)
            if mc is None:
                return [], [0]
            return [k.removeprefix(f"{name}.") for k in mc.modality_keys], list(mc.delta_indices) or [0]

        video, vd = keys("video")
        state, sd = keys("state")
        action, ad = keys("action")
        lang = configs.get("language")
        language_key = lang.modality_keys[0] if lang is not None and lang.modality_keys else FLAT_LANGUAGE_KEY
        return cls(protocol, so101_sim, video, vd, state, sd, action, ad, language_key, features)


@dataclass
class RequestPlan:
    """How one env's observations become requests to one server, and replies become action vectors."""

    cameras: dict[str, str]  # protocol camera -> env camera
    state: dict[str, int]  # protocol key -> dims, splitting the env's state vector in this order
    env_state: dict[str, int]  # protocol key(s) carrying the env's environment_state
    extra: list[str]  # protocol state keys sent as they are from the env's extra vectors (ee_pos, ...)
    action: list[str]  # protocol action keys, concatenated in this order
    layout: RequestLayout
    video_frames: int
    state_frames: int
    auto_format: bool  # the layout was guessed (an N1.6 server may be wrapped for simulation: flat)


def _split_for(keys: list[str], dim: int, what: str) -> dict[str, int] | None:
    """Dims of a server's keys for a ``dim``-vector when they can be known without the server saying."""
    if not keys:
        return None
    if len(keys) == 1:
        return {keys[0]: dim}
    default = split_vector_keys(dim, what)
    if list(default) == keys:
        return default
    return None


def wants_env_state(spec: ServerSpec, mapping: ProtocolMapping) -> bool:
    """Whether to send the env's environment_state: the mapping names it, or the server lists it."""
    if mapping.environment_state:
        return True
    if spec.features is not None:
        return bool(spec.features.get(ENV_STATE_KEY))
    return ENV_STATE_KEY in spec.state_keys


def required_cameras(
    spec: ServerSpec, mapping: ProtocolMapping, scene_cameras: list[str] | tuple[str, ...], size: tuple[int, int]
) -> dict[str, tuple[int, int]]:
    """Env camera -> (H, W) that the server's cameras need, resolved against the scene's cameras.

    Raises ``KeyError`` naming a server camera that maps to no scene camera (and the flag that fixes it).
    """
    out: dict[str, tuple[int, int]] = {}
    for proto in server_cameras(spec, mapping):
        env_cam = resolve_camera(proto, list(scene_cameras), mapping.video)
        shape = ((spec.features or {}).get("video") or {}).get(proto)
        out[env_cam] = tuple(shape[:2]) if shape else tuple(size)
    return out


def server_cameras(spec: ServerSpec, mapping: ProtocolMapping) -> list[str]:
    """The server's cameras; a server that declares none: the mapping's."""
    if spec.cameras:
        return list(spec.cameras)
    return list(mapping.video or {})  # a server that does not say: the mapping's cameras


def make_plan(spec: ServerSpec, mapping: ProtocolMapping, env: EnvDescription) -> tuple[RequestPlan, list[str]]:
    """The request plan for ``env`` and every mismatch found while making it (empty when compatible)."""
    m = mapping
    problems: list[str] = []
    cameras = _plan_cameras(spec, m, env, problems)
    env_keys = _plan_env_state(spec, m, env, problems)
    extra = [k for k in spec.state_keys if k in env.extra_state and k not in env_keys]
    state = _plan_state(spec, m, env, [k for k in spec.state_keys if k not in env_keys and k not in extra], problems)
    server_state = (spec.features or {}).get("state") or {}
    for k in extra:
        if k in server_state and server_state[k] != env.extra_state[k]:
            problems.append(f"state key {k!r}: dimension mismatch, server {server_state[k]}, env {env.extra_state[k]}")
    action = _plan_action(spec, m, env, problems)
    layout = RequestLayout(
        m.resolved_format(spec.protocol), m.resolved_envelope(spec.protocol), m.language_key or spec.language_key
    )
    auto = m.format == "auto" and not spec.so101_sim
    frames = (len(spec.video_deltas), len(spec.state_deltas))
    return RequestPlan(cameras, state, env_keys, extra, action, layout, *frames, auto), problems


def _plan_cameras(
    spec: ServerSpec, mapping: ProtocolMapping, env: EnvDescription, problems: list[str]
) -> dict[str, str]:
    """Protocol camera -> env camera, with resolution checks when the server reports its sizes."""
    sizes = (spec.features or {}).get("video") or {}
    cameras: dict[str, str] = {}
    for proto in server_cameras(spec, mapping):
        try:
            env_cam = resolve_camera(proto, list(env.cameras), mapping.video)
        except KeyError as e:
            problems.append(f"camera {proto!r}: {e.args[0]}")
            continue
        if env_cam not in env.cameras:
            problems.append(f"camera {proto!r}: the env has no camera {env_cam!r} (env cameras: {sorted(env.cameras)})")
            continue
        cameras[proto] = env_cam
        want = sizes.get(proto)
        if want and tuple(want[:2]) != tuple(env.cameras[env_cam]):
            problems.append(
                f"camera {proto!r}: resolution mismatch, server expects {want[0]}x{want[1]}, env renders "
                f"{env.cameras[env_cam][0]}x{env.cameras[env_cam][1]}"
            )
    for proto in mapping.video or {}:
        if spec.cameras and proto not in spec.cameras:
            problems.append(f"camera {proto!r}: the server does not take it (server cameras: {spec.cameras})")
    return cameras


def _plan_env_state(
    spec: ServerSpec, mapping: ProtocolMapping, env: EnvDescription, problems: list[str]
) -> dict[str, int]:
    """The protocol key(s) carrying the env's environment_state, when the server takes it."""
    if not wants_env_state(spec, mapping):
        return {}
    feats = spec.features or {}
    keys = dict(mapping.environment_state or {})
    server_keys = list(feats.get(ENV_STATE_KEY) or [])
    if not keys and server_keys and all(k in (feats.get("state") or {}) for k in server_keys):
        keys = {k: int(feats["state"][k]) for k in server_keys}  # the server's names and sizes
    keys = keys or {ENV_STATE_KEY: env.env_state_dim or 0}
    if not env.env_state_dim:
        problems.append("environment_state: the server needs it but the env provides none")
    elif sum(keys.values()) != env.env_state_dim:
        problems.append(
            f"environment_state: the keys {keys} take {sum(keys.values())} values, the env has {env.env_state_dim}"
        )
    return keys


def _plan_state(
    spec: ServerSpec, mapping: ProtocolMapping, env: EnvDescription, robot_keys: list[str], problems: list[str]
) -> dict[str, int]:
    """The split of the env's state vector into the server's robot-state keys."""
    server_state = (spec.features or {}).get("state") or {}
    if mapping.state is not None:
        state = dict(mapping.state)
    elif server_state:
        state = {k: server_state[k] for k in robot_keys if k in server_state}
    else:
        state = _split_for(robot_keys, env.state_dim, "state") or {}
        if robot_keys and not state:
            problems.append(
                f"state keys {robot_keys}: the server does not say how many values each takes; give them in a "
                "mapping file ('state: {key: dims, ...}' in the server's order)"
            )
    if state and sum(state.values()) != env.state_dim:
        problems.append(
            f"state: the server's keys {state} take {sum(state.values())} values, the env's state has {env.state_dim}"
        )
    for k, d in state.items():
        if spec.state_keys and k not in spec.state_keys:
            problems.append(f"state key {k!r}: the server does not have it (server keys: {spec.state_keys})")
        if k in server_state and server_state[k] != d:
            problems.append(f"state key {k!r}: dimension mismatch, server {server_state[k]}, mapping/env {d}")
    if state:
        problems += [
            f"state key {k!r}: the server has it but the mapping does not" for k in robot_keys if k not in state
        ]
    return state


def _plan_action(spec: ServerSpec, mapping: ProtocolMapping, env: EnvDescription, problems: list[str]) -> list[str]:
    """The server's action keys in concatenation order; their total must be the env's action size when known."""
    m = mapping
    action = list(m.action or spec.action_keys)
    server_action = dict((spec.features or {}).get("action") or {})
    dims = dict(m.action or {}) or server_action or (_split_for(action, env.action_dim, "action") or {})
    if dims and all(k in dims for k in action) and sum(dims[k] for k in action) != env.action_dim:
        problems.append(
            f"action: the server's keys {dims} give {sum(dims[k] for k in action)} values, the env takes "
            f"{env.action_dim}"
        )
    for k, d in (m.action or {}).items():
        if spec.action_keys and k not in spec.action_keys:
            problems.append(f"action key {k!r}: the server does not have it (server keys: {spec.action_keys})")
        if k in server_action and server_action[k] != d:
            problems.append(f"action key {k!r}: dimension mismatch, server {server_action[k]}, mapping {d}")
    return action
