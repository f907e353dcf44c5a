"""A client for Isaac-GR00T-protocol policy servers (GR00T N1.5, N1.6/N1.7, and ``so101-sim serve``).

The client reads the server's modality config once (:meth:`PolicyClient.spec`) and builds every request from it:
the server's generation (N1.5 sends its modality config as a JSON string with prefixed keys, N1.6/N1.7 as a map),
its camera names mapped to the env's cameras (``front`` -> ``camera1``, ``wrist`` -> ``camera2``, overridable),
its state keys (``single_arm`` 5 + ``gripper`` 1 for a 6-joint arm), its language key, and as many frames as its
``delta_indices`` ask for. No mapping file is needed for GR00T's SO-100/SO-101 configs.

Only endpoints the server has are called: ``ping`` tells whether the server is ``so101-sim serve`` (which adds
``get_features``, the shapes behind the keys); N1.5 servers have no ``reset``.

A REQ socket that has sent a request and missed the reply cannot send again, so after a timeout the client
throws that socket away (``LINGER 0``, nothing left queued) and opens a fresh one before raising
:class:`PolicyServerError`; the next call starts clean.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import zmq

from so101_sim.serving.mapping import PROTOCOLS, ProtocolMapping, split_vector
from so101_sim.serving.observation import RequestLayout, decode_actions, encode_observation
from so101_sim.serving.plan import (
    EnvDescription,
    RequestPlan,
    ServerSpec,
    make_plan,
    required_cameras,
    wants_env_state,
)
from so101_sim.serving.wire import (
    PICKLE_PROTOCOL_MESSAGE,
    ModalityConfig,
    ProtocolError,
    looks_like_pickle,
    pack,
    unpack,
)

UNAUTHORIZED = "Unauthorized"


class PolicyServerError(RuntimeError):
    """The server could not be reached (``answered`` False), or it answered with an error (``answered`` True)."""

    def __init__(self, message: str, answered: bool = True) -> None:
        super().__init__(message)
        self.answered = answered

    @property
    def unauthorized(self) -> bool:
        return self.answered and UNAUTHORIZED in str(self)


class PolicyClient:
    """One REQ connection to a policy server. Not thread-safe: give each thread its own client.

    ``protocol``: ``"n1.5"``/``"n1.6"`` to skip generation detection (``None`` detects it). ``mapping``
    overrides what is derived from the server (camera names, state split, language key, layout).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5555,
        timeout_ms: int = 15000,
        api_token: str | None = None,
        mapping: ProtocolMapping | None = None,
        protocol: str | None = None,
    ) -> None:
        if protocol not in (None, "auto", *PROTOCOLS):
            raise ValueError(f"protocol must be one of {PROTOCOLS} or auto, got {protocol!r}")
        self.host, self.port, self.timeout_ms, self.api_token = host, int(port), int(timeout_ms), api_token
        self.mapping = mapping or ProtocolMapping()
        self.protocol = None if protocol == "auto" else protocol
        self._spec: ServerSpec | None = None
        self._plan: RequestPlan | None = None
        self._implicit: tuple[str, RequestPlan] | None = None
        self._ping_reply: dict | None = None
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
            raise PolicyServerError("client is closed", answered=False)
        try:
            self._socket.send(payload, copy=len(payload) < 64 * 1024)  # zero-copy for large observations
            if not self._socket.poll(self.timeout_ms, zmq.POLLIN):
                raise zmq.Again()
            raw = self._socket.recv(copy=False).buffer
        except zmq.ZMQError as e:
            self._open_socket()  # this REQ socket is now out of step; a fresh one for the next call
            raise PolicyServerError(
                f"failed to connect to policy server at {self.address} (no reply within {self.timeout_ms} ms"
                f" to {endpoint!r}{'' if isinstance(e, zmq.Again) else f': {e}'})",
                answered=False,
            ) from None
        if looks_like_pickle(raw):
            raise PolicyServerError(f"the policy server at {self.address} answered in {PICKLE_PROTOCOL_MESSAGE}")
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
        """True when the server answers; False when nothing answers within the timeout.

        A server that answers with an error (a refused api_token, say) raises :class:`PolicyServerError`: it is
        there, and the message says why it refused.
        """
        try:
            reply = self.call("ping")
        except PolicyServerError as e:
            if e.answered:
                raise
            return False
        self._ping_reply = reply if isinstance(reply, dict) else {}
        return True

    def kill_server(self) -> None:
        self.call("kill")

    def get_modality_config(self) -> dict[str, ModalityConfig]:
        reply = self.call("get_modality_config")
        if not isinstance(reply, dict):
            raise PolicyServerError(f"get_modality_config reply must be a map, got {type(reply).__name__}")
        return reply

    def get_action(self, observation: dict[str, Any]) -> Any:
        """Raw ``get_action``: ``observation`` is the already laid-out ``data``; returns the raw reply."""
        return self.call("get_action", observation)

    # --- what the server declares -----------------------------------------------------------------------------
    def spec(self) -> ServerSpec:
        """The server's generation, keys and horizons (asked once, then cached)."""
        if self._spec is None:
            if self._ping_reply is None and not self.ping():
                raise PolicyServerError(
                    f"failed to connect to policy server at {self.address} (no reply within {self.timeout_ms} ms)",
                    answered=False,
                )
            ours = (self._ping_reply or {}).get("server") == "so101-sim"
            modality = self.get_modality_config()
            features = self.call("get_features") if ours else None
            try:
                self._spec = ServerSpec.from_modality(modality, ours, self.protocol, features)
            except ProtocolError as e:
                raise PolicyServerError(f"policy server at {self.address}: {e}") from e
        return self._spec

    def get_features(self) -> dict[str, Any] | None:
        """Shapes behind the modality keys (``so101-sim serve`` only); ``None`` for GR00T servers (not asked)."""
        return self.spec().features

    def reset(self) -> None:
        """Reset the server's policy state (N1.6 ``reset``); N1.5 servers have none and are not asked."""
        spec = self.spec()
        if spec.so101_sim or spec.protocol != "n1.5":
            self.call("reset", {"options": None})

    # --- request plan -----------------------------------------------------------------------------------------
    def server_wants_env_state(self) -> bool:
        """Whether to send the env's environment_state: the mapping names it, or the server lists it."""
        return wants_env_state(self.spec(), self.mapping)

    def required_cameras(
        self, scene_cameras: list[str] | tuple[str, ...], size: tuple[int, int]
    ) -> dict[str, tuple[int, int]]:
        """Env camera -> (H, W) that the server's cameras need, resolved against the scene's cameras.

        Raises ``KeyError`` naming a server camera that maps to no scene camera (and the flag that fixes it).
        """
        return required_cameras(self.spec(), self.mapping, scene_cameras, size)

    def plan(self, env: EnvDescription) -> tuple[RequestPlan, list[str]]:
        """The request plan for ``env`` and every mismatch found while making it (empty when compatible)."""
        return make_plan(self.spec(), self.mapping, env)

    def check_compatibility(self, env: EnvDescription) -> list[str]:
        """One line per mismatch between the server (keys, dims, resolutions), the mapping and the env."""
        return self.plan(env)[1]

    def ensure_compatible(self, env: EnvDescription) -> None:
        """Check and keep the plan for :meth:`get_action_chunk`; raises naming every mismatch."""
        plan, problems = self.plan(env)
        if problems:
            raise PolicyServerError(
                f"policy server at {self.address} does not match the env:\n  - " + "\n  - ".join(problems)
            )
        self._plan = plan

    # --- array level ------------------------------------------------------------------------------------------
    def get_action_parts(
        self, video: dict[str, np.ndarray], state: dict[str, np.ndarray], task: str | list[str], plan: RequestPlan
    ) -> dict[str, np.ndarray]:
        """Protocol-keyed arrays -> {action key: (B, T, D)}, in the plan's layout.

        When the layout was guessed (nested) and an N1.6/N1.7 server asks for flat ``'video.<cam>'`` /
        ``'state.<key>'`` keys (a server wrapped for simulation), the request is sent once more in the flat
        layout and the plan remembers it.
        """
        try:
            reply = self.call("get_action", encode_observation(video, state, task, plan.layout))
        except PolicyServerError as e:
            wants_flat = any(f"'{kind}." in str(e) for kind in ("video", "state"))
            if not (e.answered and plan.auto_format and plan.layout.format == "nested" and wants_flat):
                raise
            plan.layout = RequestLayout("flat", plan.layout.envelope, plan.layout.language_key)
            reply = self.call("get_action", encode_observation(video, state, task, plan.layout))
        plan.auto_format = False  # the layout works: keep it
        try:
            return decode_actions(reply)
        except ProtocolError as e:
            raise PolicyServerError(f"policy server at {self.address}: {e}") from e

    def _implicit_plan(self, images: dict[str, np.ndarray], state: np.ndarray, env_state, extra_state) -> RequestPlan:
        """A plan from the arrays themselves, for API users who do not call :meth:`ensure_compatible`."""
        per_step = 2 if state.ndim == 3 else 1  # leading (B,) or (B, T) axes
        env = EnvDescription(
            {k: tuple(v.shape[-3:-1]) for k, v in images.items()},
            int(state.shape[-1]),
            int(state.shape[-1]),
            None if env_state is None else int(np.prod(np.shape(env_state)[per_step:])),
            {k: int(np.shape(v)[-1]) for k, v in (extra_state or {}).items()},
        )
        key = repr(env)
        if self._implicit is not None and self._implicit[0] == key:
            return self._implicit[1]  # kept: it remembers a layout switch
        plan, problems = self.plan(env)
        fatal = [p for p in problems if not p.startswith("action")]  # the action size is not known here
        if fatal:
            raise PolicyServerError(
                f"policy server at {self.address} does not match the observation:\n  - " + "\n  - ".join(fatal)
            )
        self._implicit = (key, plan)
        return plan

    def get_action_chunk(
        self,
        images: dict[str, np.ndarray],
        state: np.ndarray,
        task: str | list[str],
        env_state: np.ndarray | None = None,
        extra_state: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Env-camera images uint8 (B, H, W, 3) or histories (B, T, H, W, 3), and state (B, D) or (B, T, D)
        -> action chunk float32 (B, T_action, D_action).

        Cameras are renamed env -> protocol, the state is split into the server's keys, the action keys are
        concatenated in the server's order. ``env_state`` ((B, ...), or (B, T, D) flattened per step alongside a
        state history) travels as the server's environment-state key; ``extra_state`` ((B, D) or (B, T, D)) adds
        protocol state keys as they are (e.g. ``ee_pos`` for a policy that lists it). A server that asks for
        ``T`` frames (``delta_indices``) must be given ``T``-step histories (``so101-sim run`` keeps them).
        """
        state = np.asarray(state, dtype=np.float32)
        plan = self._plan or self._implicit_plan(images, state, env_state, extra_state)
        timed = state.ndim == 3
        parts = split_vector(state, plan.state, "state") if plan.state else {}
        if plan.env_state:
            if env_state is None:
                raise PolicyServerError(
                    f"policy server at {self.address} needs the env's environment_state ({list(plan.env_state)}) "
                    "but none was given"
                )
            env = np.asarray(env_state, dtype=np.float32)
            env = env.reshape(*env.shape[: 2 if timed else 1], -1)
            parts.update(split_vector(env, plan.env_state, "env_state"))
        for key in plan.extra:
            if key in (extra_state or {}):
                parts[key] = np.asarray(extra_state[key], dtype=np.float32)
        missing = [cam for cam in plan.cameras.values() if cam not in images]
        if missing:
            raise KeyError(f"images lack camera(s) {missing} that the server needs; got {sorted(images)}")
        video = {proto: images[cam] for proto, cam in plan.cameras.items()}
        self._check_frames(video, parts, plan)
        out = self.get_action_parts(video, parts, task, plan)
        order = plan.action or list(out)
        missing_keys = [k for k in order if k not in out]
        if missing_keys:
            raise PolicyServerError(
                f"policy server at {self.address}: the reply lacks action key(s) {missing_keys}; got {sorted(out)}"
            )
        return np.concatenate([out[k] for k in order], axis=-1).astype(np.float32, copy=False)

    def _check_frames(self, video: dict[str, np.ndarray], parts: dict[str, np.ndarray], plan: RequestPlan) -> None:
        for proto, arr in video.items():
            t = arr.shape[1] if arr.ndim == 5 else 1
            if t != plan.video_frames:
                raise ValueError(
                    f"the server wants {plan.video_frames} frame(s) of camera {proto!r} (its video delta_indices); "
                    f"got {t}: pass (B, T, H, W, 3) histories"
                )
        for key, arr in parts.items():
            t = arr.shape[1] if arr.ndim == 3 else 1
            if t != plan.state_frames:
                raise ValueError(
                    f"the server wants {plan.state_frames} step(s) of state {key!r} (its state delta_indices); "
                    f"got {t}: pass (B, T, D) histories"
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
        self.protocol = None
        self._spec = None
        self._plan = None
        self._implicit = None
        self._ping_reply = {"status": "ok", "server": "so101-sim"}
        self._endpoints = {"ping": lambda _d, _p: dict(self._ping_reply), **service.endpoints()}
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
            return handler(data or {}, "n1.6")
        except ProtocolError as e:
            raise PolicyServerError(f"in-process policy answered {endpoint!r} with an error: {endpoint}: {e}") from e
        except Exception as e:
            raise PolicyServerError(
                f"in-process policy failed in {endpoint!r}: internal error: {type(e).__name__}: {e}"
            ) from e

    def kill_server(self) -> None:
        return None

    def close(self) -> None:
        return None


__all__ = [
    "EnvDescription",
    "LocalPolicyClient",
    "PolicyClient",
    "PolicyServerError",
    "RequestPlan",
    "ServerSpec",
]
