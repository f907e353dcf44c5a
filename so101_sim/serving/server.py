"""A policy server that speaks the Isaac-GR00T ZMQ protocol.

Requests are served one at a time, in arrival order, on one ZMQ REP socket (GR00T's own design). Several
clients may be connected at once: ZMQ queues each client's request whole and routes every reply back to the
client that asked, so answers never cross; a client waits at most one policy call per client ahead of it.
For parallel inference run one server per GPU/port.

Robustness rules (each is tested): every request gets exactly one reply; anything wrong with a request
(garbage bytes, extra frames, bad msgpack, unknown endpoint, missing keys, wrong shapes or dtypes, wrong token,
a policy that raises) is answered with ``{"error": message}`` and the loop goes on; a client that vanishes
before its reply is simply not answered (ZMQ drops the reply); only the ``kill`` endpoint (or :meth:`stop`)
ends the loop. Messages larger than ``max_message_bytes`` make ZMQ drop that peer's connection instead of
allocating the memory.
"""

from __future__ import annotations

import hmac
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import zmq

from so101_sim.serving.mapping import ProtocolMapping, split_vector
from so101_sim.serving.observation import decode_observation, encode_actions
from so101_sim.serving.wire import ModalityConfig, ProtocolError, pack, unpack

log = logging.getLogger(__name__)

DEFAULT_PORT = 5555
DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024
ZERO_COPY_BYTES = 64 * 1024  # pyzmq: zero-copy sends only pay off for large messages


# ----------------------------------------------------------------------------------------------------------------
# What a served policy must provide
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class PolicyFeatures:
    """What the policy consumes and produces, in LeRobot terms."""

    cameras: dict[str, tuple[int, int] | None]  # LeRobot image key -> (H, W), None if any size works
    state_dim: int | None
    action_dim: int
    chunk_size: int | None = None
    env_state_shape: tuple[int, ...] | None = None  # observation.environment_state, when the policy takes it


class ChunkPolicy(Protocol):
    """A policy that maps one batched observation to an action chunk (numpy in, numpy out)."""

    def features(self) -> PolicyFeatures: ...

    def predict_chunk(self, images: dict[str, np.ndarray], state: np.ndarray | None, task: list[str]) -> np.ndarray:
        """images: LeRobot image key -> uint8 (B, H, W, 3); state: float32 (B, D); returns (B, T, action_dim).

        A policy whose features declare ``env_state_shape`` is also passed ``env_state=`` float32
        (B, *env_state_shape).
        """
        ...

    def reset(self) -> None: ...


# ----------------------------------------------------------------------------------------------------------------
# Endpoints over a ChunkPolicy
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class PolicyService:
    """The GR00T endpoints (``get_action``, ``get_modality_config``, ``reset``) plus ``get_features``."""

    policy: ChunkPolicy
    mapping: ProtocolMapping = field(default_factory=ProtocolMapping)

    def __post_init__(self) -> None:
        feats = self.policy.features()
        self._features = feats
        cams = [ProtocolMapping.env_camera(k) for k in feats.cameras]
        env_dim = int(np.prod(feats.env_state_shape)) if feats.env_state_shape else None
        self.mapping = self.mapping.with_defaults(cams, feats.state_dim, feats.action_dim, env_dim)
        m = self.mapping
        by_key = {ProtocolMapping.image_key(cam): proto for proto, cam in (m.video or {}).items()}
        unknown = sorted(k for k in by_key if k not in feats.cameras)
        if unknown:
            raise ValueError(
                f"mapping {m.source}: camera(s) {unknown} are not inputs of the policy {sorted(feats.cameras)}"
            )
        unmapped = sorted(k for k in feats.cameras if k not in by_key)
        if unmapped:
            raise ValueError(f"mapping {m.source}: policy input(s) {unmapped} have no protocol camera in 'video'")
        self._proto_to_image_key = {proto: ProtocolMapping.image_key(cam) for proto, cam in (m.video or {}).items()}
        self.resolutions = {
            proto: feats.cameras[key] for proto, key in self._proto_to_image_key.items() if feats.cameras[key]
        }
        if feats.state_dim and sum((m.state or {}).values()) != feats.state_dim:
            raise ValueError(
                f"mapping {m.source}: 'state' {m.state} sums to {sum(m.state.values())}, policy state has {feats.state_dim}"
            )
        env_sum = sum((m.environment_state or {}).values())
        if (env_dim or 0) != env_sum:
            raise ValueError(
                f"mapping {m.source}: 'environment_state' {m.environment_state} has {env_sum} values, the policy's "
                f"observation.environment_state has {env_dim or 0} (shape {feats.env_state_shape})"
            )
        if sum((m.action or {}).values()) != feats.action_dim:
            raise ValueError(
                f"mapping {m.source}: 'action' {m.action} sums to {sum(m.action.values())}, policy action has {feats.action_dim}"
            )

    def endpoints(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "get_action": self.get_action,
            "get_modality_config": lambda _data: self.get_modality_config(),
            "get_features": lambda _data: self.get_features(),
            "reset": self.reset,
        }

    def horizon(self) -> int | None:
        h = self._features.chunk_size
        if self.mapping.action_horizon:
            h = min(h, self.mapping.action_horizon) if h else self.mapping.action_horizon
        return h

    def get_modality_config(self) -> dict[str, ModalityConfig]:
        m = self.mapping
        return {
            "video": ModalityConfig([0], list(m.video or {})),
            "state": ModalityConfig([0], list(m.all_state_keys)),
            "action": ModalityConfig(list(range(self.horizon() or 1)), list(m.action or {})),
            "language": ModalityConfig([0], [m.resolved_language_key]),
        }

    def get_features(self) -> dict[str, Any]:
        """This project's extension: the shapes behind the modality keys, for client-side compatibility checks."""
        m = self.mapping
        return {
            "video": {p: ([*self.resolutions[p], 3] if p in self.resolutions else None) for p in (m.video or {})},
            "state": m.all_state_keys,
            "environment_state": list(m.environment_state or {}),
            "action": dict(m.action or {}),
            "action_horizon": self.horizon(),
            "language_key": m.resolved_language_key,
        }

    def reset(self, _data: Any = None) -> dict[str, Any]:
        self.policy.reset()
        return {}

    def get_action(self, data: Any) -> Any:
        obs, style = decode_observation(data, self.mapping, self.resolutions)
        images = {self._proto_to_image_key[c]: v[:, -1] for c, v in obs.video.items()}  # current frame
        state = (
            np.concatenate([obs.state[k][:, -1] for k in self.mapping.state or {}], axis=-1)
            if self.mapping.state
            else None
        )
        kwargs = {}
        if self.mapping.environment_state:
            env = np.concatenate([obs.state[k][:, -1] for k in self.mapping.environment_state], axis=-1)
            kwargs["env_state"] = env.reshape(env.shape[0], *self._features.env_state_shape)
        chunk = np.asarray(self.policy.predict_chunk(images, state, obs.task, **kwargs), dtype=np.float32)
        if chunk.ndim == 2:  # a single-step policy: (B, D) is a chunk of one
            chunk = chunk[:, None]
        want = (obs.batch_size, self._features.action_dim)
        if chunk.ndim != 3 or (chunk.shape[0], chunk.shape[2]) != want:
            raise RuntimeError(f"policy returned actions of shape {chunk.shape}, expected (B={want[0]}, T, {want[1]})")
        if not np.all(np.isfinite(chunk)):
            raise RuntimeError("policy returned NaN or inf actions")
        if self.mapping.action_horizon:
            chunk = chunk[:, : self.mapping.action_horizon]
        return encode_actions(split_vector(chunk, self.mapping.action or {}, "policy action"), style)


# ----------------------------------------------------------------------------------------------------------------
# The socket loop
# ----------------------------------------------------------------------------------------------------------------


def _error_reply(message: str) -> bytes:
    """``{"error": message}``; a message that cannot be encoded (lone surrogates) is escaped, never raised."""
    try:
        return pack({"error": message})
    except Exception:  # noqa: BLE001 - the reply must always be sent
        return pack({"error": message.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")})


class PolicyServer:
    """Binds a REP socket and answers protocol requests with the given endpoints until ``kill``/:meth:`stop`.

    ``port=0`` binds an ephemeral port (see :attr:`port`). ``ping`` and ``kill`` are built in.
    """

    def __init__(
        self,
        endpoints: dict[str, Callable[[Any], Any]] | PolicyService,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        api_token: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        if isinstance(endpoints, PolicyService):
            endpoints = endpoints.endpoints()
        self._endpoints: dict[str, Callable[[Any], Any]] = {
            "ping": lambda _d: {"status": "ok", "message": "Server is running"},
            **endpoints,
        }
        self.api_token = api_token or None
        self._stop = threading.Event()
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.REP)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, int(max_message_bytes))
        try:
            if port == 0:
                self.port = self._socket.bind_to_random_port(f"tcp://{host}")
            else:
                self._socket.bind(f"tcp://{host}:{port}")
                self.port = port
        except zmq.ZMQError as e:
            self.close()
            raise OSError(f"cannot bind the policy server to tcp://{host}:{port}: {e}") from e
        self.host = host
        self.requests_served = 0

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    # The request -> reply function: pure, never raises, so the REP state machine always gets its reply.
    def handle(self, frames: list[bytes] | list[zmq.Frame]) -> tuple[bytes, bool]:
        """One request's frames -> (reply bytes, keep serving)."""
        endpoint = "?"
        try:
            if len(frames) != 1:
                raise ProtocolError(f"expected a single-frame message, got {len(frames)} frames")
            first = frames[0]
            request = unpack(first.buffer if isinstance(first, zmq.Frame) else first)
            if not isinstance(request, dict):
                raise ProtocolError(f"a request must be a msgpack map, got {type(request).__name__}")
            if self.api_token is not None:
                token = request.get("api_token")
                if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self.api_token.encode()):
                    return pack({"error": "Unauthorized: Invalid API token"}), True
            endpoint = request.get("endpoint", "get_action")  # GR00T's default
            if endpoint == "kill":
                return pack({"status": "ok", "message": "Server is shutting down"}), False
            if not isinstance(endpoint, str) or endpoint not in self._endpoints:
                raise ProtocolError(f"Unknown endpoint: {endpoint!r}; available: {sorted([*self._endpoints, 'kill'])}")
            result = self._endpoints[endpoint](request.get("data") or {})
            return pack(result), True
        except (ProtocolError, ValueError, KeyError, TypeError) as e:
            log.warning("bad request to %s: %s", endpoint, e)
            return _error_reply(f"{endpoint}: {e}" if endpoint != "?" else str(e)), True
        except Exception as e:  # noqa: BLE001 - the policy itself failed: report it, keep serving
            log.error("error in endpoint %s:\n%s", endpoint, traceback.format_exc())
            return _error_reply(f"{endpoint}: internal error: {type(e).__name__}: {e}"), True

    def serve_forever(self, poll_ms: int = 100) -> None:
        log.info("policy server listening on %s", self.address)
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                if not poller.poll(poll_ms):
                    continue
                frames = self._socket.recv_multipart(copy=False)  # zero-copy: big images are not copied again
                reply, keep_going = self.handle(frames)
                try:
                    self._socket.send(reply, copy=len(reply) < ZERO_COPY_BYTES)
                except zmq.ZMQError as e:  # cannot happen on REP after a recv, but never die of it
                    log.error("could not send a reply: %s", e)
                self.requests_served += 1
                if not keep_going:
                    log.info("kill request received: shutting down")
                    self.close(linger_ms=1000)  # let the reply to `kill` leave before the socket goes
                    break
        finally:
            self.close()

    def stop(self) -> None:
        """Ask :meth:`serve_forever` (running in another thread) to return within one poll period."""
        self._stop.set()

    def close(self, linger_ms: int = 0) -> None:
        if not self._socket.closed:
            self._socket.close(linger=linger_ms)
        if not self._context.closed:
            self._context.term()

    def start_thread(self) -> threading.Thread:
        """Serve in a daemon thread (tests, benchmarks, in-process use). Stop with :meth:`stop` or ``kill``."""
        t = threading.Thread(target=self.serve_forever, name=f"policy-server-{self.port}", daemon=True)
        t.start()
        return t
