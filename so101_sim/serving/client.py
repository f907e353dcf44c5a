"""A client for Isaac-GR00T-protocol policy servers (GR00T N1.5/N1.6 servers, and ``so101-sim serve``).

A REQ socket that has sent a request and missed the reply cannot send again, so after a timeout the client
throws that socket away (``LINGER 0``, nothing left queued) and opens a fresh one before raising
:class:`PolicyServerError`; the next call starts clean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import zmq

from so101_sim.serving.mapping import ProtocolMapping, join_vector, split_vector, split_vector_keys
from so101_sim.serving.observation import decode_actions, encode_observation
from so101_sim.serving.wire import ModalityConfig, ProtocolError, pack, unpack


class PolicyServerError(RuntimeError):
    """The server could not be reached, or it answered with an error."""


@dataclass
class EnvDescription:
    """What an env provides, for :meth:`PolicyClient.check_compatibility`."""

    cameras: dict[str, tuple[int, int]]  # env camera name -> (H, W)
    state_dim: int
    action_dim: int
    env_state_dim: int | None = None  # values of environment_state per sample, when the env provides it
    extra_state: dict[str, int] = field(default_factory=dict)  # other per-world vectors, e.g. {"ee_pos": 3}


class PolicyClient:
    """One REQ connection to a policy server. Not thread-safe: give each thread its own client."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5555,
        timeout_ms: int = 15000,
        api_token: str | None = None,
        mapping: ProtocolMapping | None = None,
    ) -> None:
        self.host, self.port, self.timeout_ms, self.api_token = host, int(port), int(timeout_ms), api_token
        self.mapping = mapping or ProtocolMapping()
        self._context = zmq.Context()
        self._socket: zmq.Socket | None = None
        self._open_socket()

    @classmethod
    def from_address(cls, address: str, **kwargs: Any) -> PolicyClient:
        """``"host:port"`` (as ``--server`` takes it) -> a client."""
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"server address must be host:port, got {address!r}")
        return cls(host or "127.0.0.1", int(port), **kwargs)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _open_socket(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
        self._socket = self._context.socket(zmq.REQ)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SNDTIMEO, self.timeout_ms)
        self._socket.connect(f"tcp://{self.host}:{self.port}")

    # --- the raw protocol -------------------------------------------------------------------------------------
    def call(self, endpoint: str, data: Any = None) -> Any:
        """Send one request and return the decoded reply; raises :class:`PolicyServerError` on error/timeout."""
        request: dict[str, Any] = {"endpoint": endpoint}
        if data is not None:
            request["data"] = data
        if self.api_token:
            request["api_token"] = self.api_token
        payload = pack(request)
        if self._socket is None:
            raise PolicyServerError("client is closed")
        try:
            self._socket.send(payload, copy=len(payload) < 64 * 1024)  # zero-copy for large observations
            if not self._socket.poll(self.timeout_ms, zmq.POLLIN):
                raise zmq.Again()
            raw = self._socket.recv(copy=False).buffer
        except zmq.ZMQError as e:
            self._open_socket()  # this REQ socket is now out of step; a fresh one for the next call
            raise PolicyServerError(
                f"failed to connect to policy server at {self.address} (no reply within {self.timeout_ms} ms"
                f" to {endpoint!r}{'' if isinstance(e, zmq.Again) else f': {e}'})"
            ) from None
        try:
            reply = unpack(raw)
        except ProtocolError as e:
            raise PolicyServerError(f"policy server at {self.address} sent an unreadable reply: {e}") from e
        if isinstance(reply, dict) and "error" in reply:
            raise PolicyServerError(
                f"policy server at {self.address} answered {endpoint!r} with an error: {reply['error']}"
            )
        return reply

    def ping(self) -> bool:
        try:
            self.call("ping")
            return True
        except PolicyServerError:
            return False

    def kill_server(self) -> None:
        self.call("kill")

    def reset(self) -> None:
        """Reset the server's policy state (N1.6 ``reset``); servers without the endpoint are left alone."""
        try:
            self.call("reset", {"options": None})
        except PolicyServerError as e:
            if "Unknown endpoint" not in str(e):
                raise

    def get_modality_config(self) -> dict[str, ModalityConfig]:
        reply = self.call("get_modality_config")
        if not isinstance(reply, dict):
            raise PolicyServerError(f"get_modality_config reply must be a map, got {type(reply).__name__}")
        return reply

    def get_features(self) -> dict[str, Any] | None:
        """Shapes behind the modality keys (``so101-sim serve`` only); ``None`` for servers without it."""
        try:
            return self.call("get_features")
        except PolicyServerError as e:
            if "Unknown endpoint" in str(e):
                return None
            raise

    def get_action(self, observation: dict[str, Any]) -> Any:
        """Raw ``get_action``: ``observation`` is the already laid-out ``data``; returns the raw reply."""
        return self.call("get_action", observation)

    # --- array level ------------------------------------------------------------------------------------------
    def get_action_parts(
        self, video: dict[str, np.ndarray], state: np.ndarray | dict[str, np.ndarray], task: str | list[str]
    ) -> dict[str, np.ndarray]:
        """Protocol-camera images and a state vector -> {action key: (B, T, D)}, in the mapping's layout."""
        reply = self.call("get_action", encode_observation(video, state, task, self.mapping))
        try:
            return decode_actions(reply)
        except ProtocolError as e:
            raise PolicyServerError(f"policy server at {self.address}: {e}") from e

    def get_action_chunk(
        self,
        images: dict[str, np.ndarray],
        state: np.ndarray,
        task: str | list[str],
        env_state: np.ndarray | None = None,
        extra_state: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Env-camera images uint8 (B, H, W, 3) and state (B, D) -> action chunk float32 (B, T, D).

        Cameras are renamed env -> protocol with ``mapping.video``; the action keys are concatenated in
        ``mapping.action`` order (or the reply's order when the mapping has none). ``env_state`` (B, ...) is
        flattened per sample and sent as the state key(s) of ``mapping.environment_state`` (default one key,
        ``environment_state``). ``extra_state`` adds protocol state keys as they are ((B, D) each, e.g. the
        end-effector pose ``ee_pos`` for a policy that lists it).
        """
        m = self.mapping
        state = np.asarray(state, dtype=np.float32)
        parts = split_vector(state, m.state or split_vector_keys(state.shape[-1]), "state")
        if env_state is not None:
            env = np.asarray(env_state, dtype=np.float32)
            env = env.reshape(env.shape[0], -1)
            parts.update(split_vector(env, m.environment_state or {"environment_state": env.shape[1]}, "env_state"))
        for key, value in (extra_state or {}).items():
            parts[key] = np.asarray(value, dtype=np.float32).reshape(len(value), -1)
        if m.video:
            missing = [cam for cam in m.video.values() if ProtocolMapping.env_camera(cam) not in images]
            if missing:
                raise KeyError(f"images lack camera(s) {missing} named in the mapping; got {sorted(images)}")
            video = {proto: images[ProtocolMapping.env_camera(cam)] for proto, cam in m.video.items()}
        else:
            video = dict(images)
        parts = self.get_action_parts(video, parts, task)
        if m.action:
            try:
                return join_vector(parts, m.action).astype(np.float32)
            except ProtocolError as e:
                raise PolicyServerError(f"policy server at {self.address}: {e}") from e
        return np.concatenate(list(parts.values()), axis=-1).astype(np.float32)

    # --- compatibility ----------------------------------------------------------------------------------------
    @staticmethod
    def _extras(env: EnvDescription, server_state_keys: list[str] | None) -> dict[str, int]:
        """The env's extra vectors that the server lists among its state keys (they are sent as such)."""
        return {k: d for k, d in env.extra_state.items() if k in (server_state_keys or [])}

    def server_wants_env_state(self, modality: dict | None = None, feats: dict | None = None) -> bool:
        """Whether to send the env's environment_state: the mapping names it, or the server lists it."""
        if self.mapping.environment_state:
            return True
        feats = self.get_features() if feats is None else feats
        if feats:
            return bool(feats.get("environment_state"))
        modality = self.get_modality_config() if modality is None else modality
        mc = modality.get("state")
        return isinstance(mc, ModalityConfig) and "environment_state" in mc.modality_keys

    def check_compatibility(self, env: EnvDescription) -> list[str]:
        """Compare the server's modality config (and shapes, when it reports them) with the env and mapping.

        Returns one line per mismatch (empty when compatible): cameras missing on either side, state and
        action keys and dimensions, image resolutions.
        """
        problems: list[str] = []
        modality = self.get_modality_config()
        feats = self.get_features() or {}

        def keys(name: str) -> list[str] | None:
            mc = modality.get(name)
            return list(mc.modality_keys) if isinstance(mc, ModalityConfig) else None

        wants_env = self.server_wants_env_state(modality, feats)
        m = self.mapping.with_defaults(
            list(env.cameras), env.state_dim, env.action_dim, env.env_state_dim if wants_env else None
        )
        if wants_env and not env.env_state_dim:
            problems.append("environment_state: the server needs it but the env provides none")

        server_cams = keys("video")
        for proto, cam in (m.video or {}).items():
            env_cam = ProtocolMapping.env_camera(cam)
            if env_cam not in env.cameras:
                problems.append(
                    f"camera {proto!r}: the env has no camera {env_cam!r} (env cameras: {sorted(env.cameras)})"
                )
            if server_cams is not None and proto not in server_cams:
                problems.append(f"camera {proto!r}: the server does not take it (server cameras: {server_cams})")
            want = (feats.get("video") or {}).get(proto)
            if want and env_cam in env.cameras and tuple(want[:2]) != tuple(env.cameras[env_cam]):
                problems.append(
                    f"camera {proto!r}: resolution mismatch, server expects {want[0]}x{want[1]}, env renders "
                    f"{env.cameras[env_cam][0]}x{env.cameras[env_cam][1]}"
                )
        for cam in server_cams or []:
            if cam not in (m.video or {}):
                problems.append(f"camera {cam!r}: the server needs it but the env/mapping does not provide it")

        sections = (
            ("state", env.state_dim, m.state or {}, {**m.all_state_keys, **self._extras(env, keys("state"))}),
            ("environment_state", (env.env_state_dim or 0) if wants_env else 0, m.environment_state or {}, None),
            ("action", env.action_dim, m.action or {}, m.action or {}),
        )
        for name, env_dim, own, split in sections:
            if sum(own.values()) != env_dim:
                problems.append(f"{name}: the mapping {own} has {sum(own.values())} dims, the env has {env_dim}")
            if split is None:  # environment-state keys travel as state keys: compared with those
                continue
            server_keys = keys(name)
            if server_keys is not None:
                for k in split:
                    if k not in server_keys:
                        problems.append(f"{name} key {k!r}: the server does not have it (server keys: {server_keys})")
                for k in server_keys:
                    if k not in split:
                        problems.append(f"{name} key {k!r}: the server has it but the mapping does not")
            server_dims = feats.get(name) or {}
            for k, d in split.items():
                if k in server_dims and server_dims[k] != d:
                    problems.append(f"{name} key {k!r}: dimension mismatch, server {server_dims[k]}, mapping/env {d}")
        return problems

    def ensure_compatible(self, env: EnvDescription) -> None:
        problems = self.check_compatibility(env)
        if problems:
            raise PolicyServerError(
                f"policy server at {self.address} does not match the env:\n  - " + "\n  - ".join(problems)
            )

    # --- lifetime ---------------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if not self._context.closed:
            self._context.term()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalPolicyClient(PolicyClient):
    """The client API over an in-process :class:`~so101_sim.serving.server.PolicyService`.

    Requests take the same path as over the network (layout, validation, mapping, the policy, the reply) minus
    the socket and serialisation, so in-process and remote runs of one policy are comparable step for step.
    """

    def __init__(self, service: Any, mapping: ProtocolMapping | None = None) -> None:
        self.host, self.port, self.timeout_ms, self.api_token = "in-process", 0, 0, None
        self.mapping = mapping or ProtocolMapping()
        self._endpoints = {"ping": lambda _d: {"status": "ok"}, **service.endpoints()}
        self._socket = None

    @property
    def address(self) -> str:
        return "in-process"

    def _open_socket(self) -> None:  # no transport
        return None

    def call(self, endpoint: str, data: Any = None) -> Any:
        handler = self._endpoints.get(endpoint)
        if handler is None:
            raise PolicyServerError(f"in-process policy: Unknown endpoint: {endpoint!r}")
        try:
            return handler(data or {})
        except (ProtocolError, ValueError, KeyError, TypeError) as e:
            raise PolicyServerError(f"in-process policy answered {endpoint!r} with an error: {endpoint}: {e}") from e

    def kill_server(self) -> None:
        return None

    def close(self) -> None:
        return None
