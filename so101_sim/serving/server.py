"""A policy server that speaks the Isaac-GR00T ZMQ protocol (N1.5 and N1.6/N1.7 clients alike).

Requests are served one at a time, in arrival order (GR00T's own design). The socket is a ZMQ ROUTER, which
GR00T's REQ clients cannot tell from a REP socket but which tells the server who asked: several clients may be
connected at once, each gets its own answer, and a client waits at most one policy call per client ahead of it.
For parallel inference run one server per GPU/port.

Who asked matters twice:

- the generation: a client that sent an N1.5-style request (bare flat observation) gets ``get_modality_config``
  in N1.5's form (a JSON string, prefixed keys), one that used N1.6's ``{"observation", "options"}`` envelope gets
  N1.6's (a map). GR00T clients ask for the modality config identically in both generations, so a client whose
  first call is ``get_modality_config`` gets the server's ``protocol`` (default N1.6); ``--protocol n1.5`` serves
  N1.5 clients from their first call.
- stateful policies (an observation history kept between calls, e.g. LeRobot policies run through
  ``select_action``): one client at a time. The first client to call ``get_action``/``reset`` holds the policy;
  the others are answered with an error until it has been idle for ``client_lease_s`` seconds; then the next
  client takes over and the policy is reset first, so no history crosses between clients.

Robustness rules (each is tested): every request gets exactly one reply; anything wrong with a request
(garbage bytes, extra frames, bad msgpack, a pickle payload, unknown endpoint, missing keys or instruction, wrong
shapes or dtypes, wrong token) is answered with ``{"error": message}`` and logged as a bad request; an exception
inside the policy is an internal error, logged with its traceback and answered with ``{"error": "...internal
error..."}``; the loop goes on. A client that vanishes before its reply is simply not answered; only ``kill``
(token-protected like everything else) or :meth:`stop` ends the loop. Messages larger than ``max_message_bytes``
make ZMQ drop that peer's connection instead of allocating the memory. Binding a non-loopback address without an
``api_token`` is refused unless ``allow_no_token`` says so explicitly.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import zmq

from so101_sim.serving.mapping import PROTOCOLS, ProtocolMapping, split_vector
from so101_sim.serving.observation import decode_observation, encode_actions
from so101_sim.serving.wire import (
    PICKLE_PROTOCOL_MESSAGE,
    ModalityConfig,
    ProtocolError,
    looks_like_pickle,
    pack,
    unpack,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 5555
DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024
DEFAULT_CLIENT_LEASE_S = 10.0
SERVER_NAME = "so101-sim"
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
    """A policy that maps one batched observation to an action chunk (numpy in, numpy out).

    A policy that keeps state between calls (an observation history) says so with a true ``stateful``
    attribute; the server then serves it to one client at a time.
    """

    def features(self) -> PolicyFeatures: ...

    def predict_chunk(self, images: dict[str, np.ndarray], state: np.ndarray | None, task: list[str]) -> np.ndarray:
        """images: LeRobot image key -> uint8 (B, H, W, 3); state: float32 (B, D); returns (B, T, action_dim).

        A policy whose features declare ``env_state_shape`` is also passed ``env_state=`` float32
        (B, *env_state_shape).
        """
        ...

    def reset(self) -> None: ...


def is_stateful(policy: Any) -> bool:
    """Whether a policy keeps state between calls (then it serves one client at a time)."""
    return bool(getattr(policy, "stateful", False))


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

    def endpoints(self) -> dict[str, Callable[..., Any]]:
        """Endpoint name -> handler(data, protocol); ``protocol`` is the asking client's generation."""
        return {
            "get_action": lambda data, _protocol: self.get_action(data),
            "get_modality_config": lambda _data, protocol: self.get_modality_config(protocol),
            "get_features": lambda _data, _protocol: self.get_features(),
            "reset": lambda data, _protocol: self.reset(data),
        }

    @property
    def stateful(self) -> bool:
        return is_stateful(self.policy)

    def horizon(self) -> int | None:
        h = self._features.chunk_size
        if self.mapping.action_horizon:
            h = min(h, self.mapping.action_horizon) if h else self.mapping.action_horizon
        return h

    def get_modality_config(self, protocol: str = "n1.6") -> dict[str, ModalityConfig]:
        """The modality config in the client generation's form.

        N1.6/N1.7: unprefixed keys, ``as_json`` a map. N1.5: keys prefixed with their modality (``video.front``,
        ``state.single_arm``, ``action.single_arm``), ``as_json`` a JSON string. A modality with no keys (a policy
        without cameras) is left out: GR00T's N1.6 ``ModalityConfig`` refuses an empty key list.
        """
        m = self.mapping
        n15 = protocol == "n1.5"
        form = "json" if n15 else "map"
        keys = {
            "video": list(m.video or {}),
            "state": list(m.all_state_keys),
            "action": list(m.action or {}),
        }
        deltas = {"video": [0], "state": [0], "action": list(range(self.horizon() or 1))}
        out = {
            name: ModalityConfig(deltas[name], [f"{name}.{k}" if n15 else k for k in ks], wire_form=form)
            for name, ks in keys.items()
            if ks
        }
        out["language"] = ModalityConfig([0], [m.resolved_language_key], wire_form=form)
        return out

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
        """Reset the policy's state (GR00T N1.6 ``reset(options)``; the options are not used)."""
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
        try:
            chunk = np.asarray(self.policy.predict_chunk(images, state, obs.task, **kwargs), dtype=np.float32)
        except ProtocolError as e:  # never let the policy's own errors pass as the client's
            raise RuntimeError(f"the policy raised {type(e).__name__}: {e}") from e
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


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # "*", "0.0.0.0" is handled above, interface names, host names: not loopback
        return False


def _request_generation(endpoint: str, data: Any) -> str | None:
    """The GR00T generation a request reveals, if any: N1.6/N1.7 clients wrap get_action data (and send reset
    options) as keyword arguments; N1.5 clients send the flat observation itself."""
    if endpoint == "get_action" and isinstance(data, dict):
        if isinstance(data.get("observation"), dict):
            return "n1.6"
        flat = any(isinstance(k, str) and k.startswith(("video.", "state.")) for k in data)
        return "n1.5" if flat else None  # a bare nested observation (the seed workflow's) tells nothing
    if endpoint == "reset" and isinstance(data, dict) and "options" in data:
        return "n1.6"
    return None


class PolicyServer:
    """Binds a ROUTER socket and answers protocol requests with the given endpoints until ``kill``/:meth:`stop`.

    ``port=0`` binds an ephemeral port (see :attr:`port`). ``ping`` and ``kill`` are built in. ``protocol``
    ("auto", "n1.5", "n1.6") picks the form of ``get_modality_config`` replies (auto: what the asking client
    used before, else N1.6). ``single_client`` (default: the policy is stateful) lets one client at a time use
    ``get_action``/``reset``; another takes over after ``client_lease_s`` seconds of the holder's silence.
    """

    def __init__(
        self,
        endpoints: dict[str, Callable[..., Any]] | PolicyService,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        api_token: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        protocol: str = "auto",
        allow_no_token: bool = False,
        single_client: bool | None = None,
        client_lease_s: float = DEFAULT_CLIENT_LEASE_S,
    ) -> None:
        if protocol not in ("auto", *PROTOCOLS):
            raise ValueError(f"protocol must be one of {('auto', *PROTOCOLS)}, got {protocol!r}")
        if not api_token and not is_loopback(host) and not allow_no_token:
            raise ValueError(
                f"refusing to bind {host!r} without an api_token: anyone who can reach the port could run the policy "
                "and stop the server. Set --api-token (or SO101_SIM_API_TOKEN), bind 127.0.0.1, or pass "
                "--allow-no-token to accept that risk"
            )
        self._reset_policy: Callable[[], Any] | None = None
        if isinstance(endpoints, PolicyService):
            if single_client is None:
                single_client = endpoints.stateful
            self._reset_policy = endpoints.policy.reset
            endpoints = endpoints.endpoints()
        self._endpoints: dict[str, Callable[..., Any]] = {
            "ping": lambda _d, _p: {"status": "ok", "message": "Server is running", "server": SERVER_NAME,
                                    "endpoints": sorted([*endpoints, "ping", "kill"])},
            **endpoints,
        }  # fmt: skip
        self.api_token = api_token or None
        self.protocol = protocol
        self.single_client = bool(single_client)
        self.client_lease_s = float(client_lease_s)
        self._holder: bytes | None = None  # the client using a stateful policy
        self._holder_seen = 0.0
        self._generations: dict[bytes, str] = {}  # client routing id -> generation it spoke
        self._stop = threading.Event()
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.ROUTER)
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

    def _generation_for(self, peer: bytes) -> str:
        if self.protocol != "auto":
            return self.protocol
        return self._generations.get(peer, "n1.6")

    def _claim(self, peer: bytes, endpoint: str) -> str | None:
        """For a stateful policy: let ``peer`` use it, or say why not (None = go ahead)."""
        if not self.single_client or endpoint not in ("get_action", "reset"):
            return None
        now = time.monotonic()
        if self._holder is not None and self._holder != peer:
            idle = now - self._holder_seen
            if idle < self.client_lease_s:
                return (
                    f"{endpoint}: this policy keeps an observation history between calls, so it serves one client "
                    f"at a time and another client is using it (idle {idle:.1f} s; it is released after "
                    f"{self.client_lease_s:g} s without requests). Retry later, or start one server per client"
                )
            log.warning("stateful policy: previous client idle %.1f s, handing the policy to a new client", idle)
            if self._reset_policy is not None:
                self._reset_policy()  # the new client must not inherit the previous one's history
        self._holder, self._holder_seen = peer, now
        return None

    # The request -> reply function: pure, never raises, so every request gets its reply.
    def handle(self, frames: list[bytes] | list[zmq.Frame], peer: bytes = b"") -> tuple[bytes, bool]:
        """One request's frames (without routing envelope) -> (reply bytes, keep serving)."""
        endpoint = "?"
        try:
            if len(frames) != 1:
                raise ProtocolError(f"expected a single-frame message, got {len(frames)} frames")
            first = frames[0]
            payload = first.buffer if isinstance(first, zmq.Frame) else first
            if looks_like_pickle(payload):
                log.warning("a client sent a pickle-based (early GR00T N1.5) request; refused")
                raise ProtocolError(
                    f"this server speaks GR00T's msgpack protocol; the request is in {PICKLE_PROTOCOL_MESSAGE}"
                )
            request = unpack(payload)
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
            data = request.get("data") or {}
            generation = _request_generation(endpoint, data)
            if generation is not None:
                if len(self._generations) > 4096:  # bounded memory with many short-lived clients
                    self._generations.clear()
                self._generations[peer] = generation
            refusal = self._claim(peer, endpoint)
            if refusal is not None:
                return _error_reply(refusal), True
            result = self._endpoints[endpoint](data, self._generation_for(peer))
            return pack(result), True
        except ProtocolError as e:  # the request is wrong: the client's error
            log.warning("bad request to %s: %s", endpoint, e)
            return _error_reply(f"{endpoint}: {e}" if endpoint != "?" else str(e)), True
        except Exception as e:  # noqa: BLE001 - the policy or the server failed: an internal error, keep serving
            log.error("internal error in endpoint %s:\n%s", endpoint, traceback.format_exc())
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
                peer, body = frames[0].bytes, frames[1:]
                envelope = [peer]
                if body and len(body[0]) == 0:  # REQ clients put an empty delimiter before the payload
                    envelope.append(b"")
                    body = body[1:]
                reply, keep_going = self.handle(body, peer)
                try:
                    self._socket.send_multipart([*envelope, reply], copy=len(reply) < ZERO_COPY_BYTES)
                except zmq.ZMQError as e:  # a vanished peer is dropped by ROUTER, but never die of anything
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
        """Close the socket; call it from the serving thread (or after it returned), use :meth:`stop` otherwise."""
        if not self._socket.closed:
            self._socket.close(linger=linger_ms)
        if not self._context.closed:
            self._context.term()

    def start_thread(self) -> threading.Thread:
        """Serve in a daemon thread (tests, benchmarks, in-process use). Stop with :meth:`stop` or ``kill``."""
        t = threading.Thread(target=self.serve_forever, name=f"policy-server-{self.port}", daemon=True)
        t.start()
        return t
