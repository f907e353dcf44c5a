"""GR00T protocol peers written by us from the observable behaviour of each Isaac-GR00T generation.

Nothing here is GR00T's code; it reproduces what their servers and clients do on the wire:

N1.5 (``gr00t/eval/service.py`` + ``robot.py``, msgpack era)
    REP socket; msgpack with numpy arrays as ``{"__ndarray_class__", "as_npy": numpy.save(allow_pickle=False)}``;
    modality configs as ``{"__ModalityConfig_class__", "as_json": <JSON string>}`` whose keys carry their modality
    prefix (``video.front``, ``state.single_arm``, ``action.single_arm``); ``get_action``'s data is the flat
    observation itself (SO-100 clients send ``(T, ...)`` without a batch axis and float64 state); replies are
    ``{"action.<key>": (T, D)}``; endpoints ping/kill/get_action/get_modality_config only; every failure is
    answered ``{"error": str(exception)}``.
N1.6/N1.7 (``gr00t/policy/server_client.py``)
    Same array encoding; modality configs' ``as_json`` is a map that the client turns into a dataclass with the
    fields delta_indices, modality_keys, sin_cos_embedding_keys, mean_std_embedding_keys, action_configs (an
    unknown field or an empty key list raises); handlers are called as ``handler(**data)``, so ``get_action`` data
    is ``{"observation": obs, "options": ...}`` and the reply is ``[action, info]``; ``reset(options)`` exists; a
    strict policy checks dtypes (uint8 video, float32 state), 5-/3-dim shapes and ``T == len(delta_indices)``.
    ``sim=True`` reproduces the simulation wrapper: flat keys inside the same envelope, ``action.<key>`` replies.
Early N1.5
    ``torch.save`` payloads (a zip archive) in both directions.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np
import zmq

SO100_LANGUAGE_KEY = "annotation.human.task_description"


def peer_encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return {"__ndarray_class__": True, "as_npy": buf.getvalue()}
    raise TypeError(type(obj))


@dataclass
class N16Config:
    """What an N1.6 client makes of a modality config map (unknown fields raise TypeError)."""

    delta_indices: list[int]
    modality_keys: list[str]
    sin_cos_embedding_keys: list[str] | None = None
    mean_std_embedding_keys: list[str] | None = None
    action_configs: list[dict] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.modality_keys, list) or not self.modality_keys:
            raise ValueError(f"modality_keys must be a non-empty list, got {self.modality_keys!r}")


@dataclass
class N15Config:
    delta_indices: list[int]
    modality_keys: list[str]


def n16_decode(obj: dict) -> Any:
    if "__ModalityConfig_class__" in obj:
        return N16Config(**obj["as_json"])
    if "__ndarray_class__" in obj:
        return np.load(io.BytesIO(obj["as_npy"]), allow_pickle=False)
    return obj


def n15_decode(obj: dict) -> Any:
    if "__ModalityConfig_class__" in obj:
        return N15Config(**json.loads(obj["as_json"]))  # json.loads of a map raises TypeError
    if "__ndarray_class__" in obj:
        return np.load(io.BytesIO(obj["as_npy"]), allow_pickle=False)
    return obj


def peer_pack(obj: Any) -> bytes:
    return msgpack.packb(obj, default=peer_encode)


def peer_unpack(data: bytes, generation: str = "n1.6") -> Any:
    return msgpack.unpackb(data, object_hook=n16_decode if generation == "n1.6" else n15_decode)


# ----------------------------------------------------------------------------------------------------------------
# Clients
# ----------------------------------------------------------------------------------------------------------------


class PeerClient:
    """A GR00T client of one generation: REQ socket, raises RuntimeError on ``{"error": ...}`` replies."""

    def __init__(self, port: int, generation: str, api_token: str | None = None, timeout_ms: int = 5000) -> None:
        self.generation = generation
        self.api_token = api_token
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
        self.sock.connect(f"tcp://127.0.0.1:{port}")

    def call(self, endpoint: str, data: Any = None, requires_input: bool = True) -> Any:
        request: dict[str, Any] = {"endpoint": endpoint}
        if requires_input:
            request["data"] = data
        if self.api_token:
            request["api_token"] = self.api_token
        self.sock.send(peer_pack(request))
        reply = peer_unpack(self.sock.recv(), self.generation)
        if isinstance(reply, dict) and "error" in reply:
            raise RuntimeError(f"Server error: {reply['error']}")
        return reply

    def get_modality_config(self) -> dict:
        return self.call("get_modality_config", requires_input=False)

    def get_action(self, observation: dict, options: dict | None = None) -> Any:
        if self.generation == "n1.6":
            return tuple(self.call("get_action", {"observation": observation, "options": options}))
        return self.call("get_action", observation)

    def reset(self) -> Any:
        return self.call("reset", {"options": None})

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


def so100_client_observation(front: np.ndarray, wrist: np.ndarray, joints: np.ndarray, text: str) -> dict:
    """What GR00T N1.5's SO-100 LeRobot client sends for one frame: no batch axis, float64 state."""
    return {
        "video.front": front[None],
        "video.wrist": wrist[None],
        "state.single_arm": joints[None, :5].astype(np.float64),
        "state.gripper": joints[None, 5:6].astype(np.float64),
        SO100_LANGUAGE_KEY: [text],
    }


# ----------------------------------------------------------------------------------------------------------------
# Servers
# ----------------------------------------------------------------------------------------------------------------


def so100_modality(video_deltas=(0,), state_deltas=(0,), horizon: int = 16, cameras=("front", "wrist")) -> dict:
    return {
        "video": {"delta_indices": list(video_deltas), "modality_keys": list(cameras)},
        "state": {"delta_indices": list(state_deltas), "modality_keys": ["single_arm", "gripper"]},
        "action": {"delta_indices": list(range(horizon)), "modality_keys": ["single_arm", "gripper"]},
        "language": {"delta_indices": [0], "modality_keys": [SO100_LANGUAGE_KEY]},
    }


@dataclass
class PeerServer:
    """A GR00T server of one generation serving a fake SO-100 policy: the action chunk holds the current joints.

    ``fail_after``: answer get_action with an error from that call on (a policy crash mid-episode).
    """

    generation: str = "n1.6"
    sim: bool = False  # N1.6 simulation wrapper (flat keys)
    modality: dict = field(default_factory=so100_modality)
    api_token: str | None = None
    fail_after: int | None = None
    pickle: bool = False  # the early torch.save-based N1.5 server
    seen: list = field(default_factory=list)
    endpoints_called: list = field(default_factory=list)
    unknown_endpoints: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.pickle:
            import torch  # noqa: F401 - imported before serving, not during a client's timeout
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    # --- what each generation answers -----------------------------------------------------------------------
    def _modality_reply(self) -> dict:
        out = {}
        for name, body in self.modality.items():
            body = dict(body)
            if self.generation == "n1.5":
                if name != "language":
                    body["modality_keys"] = [f"{name}.{k}" for k in body["modality_keys"]]
                out[name] = {"__ModalityConfig_class__": True, "as_json": json.dumps(body)}
            else:
                if name == "action":  # N1.6 sends every dataclass field, action configs by enum name
                    rel = {"rep": "RELATIVE", "type": "NON_EEF", "format": "DEFAULT", "state_key": None}
                    body["action_configs"] = [rel, {**rel, "rep": "ABSOLUTE"}]
                out[name] = {"__ModalityConfig_class__": True, "as_json": {
                    "sin_cos_embedding_keys": None, "mean_std_embedding_keys": None, "action_configs": None, **body}}  # fmt: skip
        return out

    def _check(self, arr: Any, label: str, dtype: Any, ndim: int, frames: int) -> None:
        assert isinstance(arr, np.ndarray), f"{label} must be a numpy array. Got {type(arr)}"
        assert arr.dtype == dtype, f"{label} must be a numpy array of type {np.dtype(dtype)}. Got {arr.dtype}"
        assert arr.ndim == ndim, f"{label} must have {ndim} dims, got {arr.shape}"
        assert arr.shape[1] == frames, f"{label}'s horizon must be {frames}. Got {arr.shape[1]}"

    def _n16_action(self, observation: dict, options: Any = None) -> list:
        m = self.modality
        tv, ts = len(m["video"]["delta_indices"]), len(m["state"]["delta_indices"])
        lang_key = m["language"]["modality_keys"][0]
        if self.sim:
            for cam in m["video"]["modality_keys"]:
                assert f"video.{cam}" in observation, f"Video key 'video.{cam}' must be in observation"
                self._check(observation[f"video.{cam}"], f"Video key '{cam}'", np.uint8, 5, tv)
            for key in m["state"]["modality_keys"]:
                assert f"state.{key}" in observation, f"State key 'state.{key}' must be in observation"
                self._check(observation[f"state.{key}"], f"State key '{key}'", np.float32, 3, ts)
            assert lang_key in observation, f"Language key '{lang_key}' must be in observation"
            state = {k: observation[f"state.{k}"] for k in m["state"]["modality_keys"]}
        else:
            for modality in ("video", "state", "language"):
                assert modality in observation, f"Observation must contain a '{modality}' key"
            for cam in m["video"]["modality_keys"]:
                assert cam in observation["video"], f"Video key '{cam}' must be in observation"
                self._check(observation["video"][cam], f"Video key '{cam}'", np.uint8, 5, tv)
            for key in m["state"]["modality_keys"]:
                assert key in observation["state"], f"State key '{key}' must be in observation"
                self._check(observation["state"][key], f"State key '{key}'", np.float32, 3, ts)
            lang = observation["language"][lang_key]  # KeyError: the key in quotes, as GR00T's policy
            assert isinstance(lang, list) and all(isinstance(x, list) and len(x) == 1 for x in lang)
            state = observation["state"]
        horizon = len(m["action"]["delta_indices"])
        actions = {k: np.repeat(state[k][:, -1:], horizon, axis=1).astype(np.float32) for k in state}
        if self.sim:
            actions = {f"action.{k}": v for k, v in actions.items()}
        return [actions, {}]

    def _n15_action(self, data: dict) -> dict:
        m = self.modality
        for cam in m["video"]["modality_keys"]:
            assert f"video.{cam}" in data, f"video.{cam}"
        for key in m["state"]["modality_keys"]:
            assert f"state.{key}" in data, f"state.{key}"
        lang_key = m["language"]["modality_keys"][0]
        text = data[lang_key]  # KeyError when missing
        assert isinstance(text, (list, str))
        batched = data["state.single_arm"].ndim == 3
        horizon = len(m["action"]["delta_indices"])
        out = {}
        for key in m["state"]["modality_keys"]:
            s = data[f"state.{key}"] if batched else data[f"state.{key}"][None]
            a = np.repeat(s[:, -1:], horizon, axis=1).astype(np.float32)
            out[f"action.{key}"] = a if batched else a[0]
        return out

    def _loop(self) -> None:
        while True:
            raw = self.sock.recv()
            if self.pickle:
                import torch

                with contextlib.suppress(Exception):  # test harness only: let the fixture stop this server
                    if msgpack.unpackb(raw).get("endpoint") == "kill":
                        self.sock.send(b"")
                        break

                buf = io.BytesIO()
                torch.save({"error": "could not load the request"}, buf)  # what its except branch sends
                self.sock.send(buf.getvalue())
                continue
            try:
                decode = n16_decode if self.generation == "n1.6" else n15_decode
                req = msgpack.unpackb(raw, object_hook=decode)
                if self.api_token is not None and req.get("api_token") != self.api_token:
                    self.sock.send(peer_pack({"error": "Unauthorized: Invalid API token"}))
                    continue
                ep = req.get("endpoint", "get_action")
                self.endpoints_called.append(ep)
                data = req.get("data", {})
                if ep == "kill":
                    self.sock.send(peer_pack({}))
                    break
                if ep == "ping":
                    result = {"status": "ok", "message": "Server is running"}
                elif ep == "get_modality_config":
                    result = self._modality_reply()
                elif ep == "get_action":
                    self.seen.append(data)
                    if self.fail_after is not None and len(self.seen) > self.fail_after:
                        raise RuntimeError("CUDA error: an illegal memory access was encountered")
                    result = self._n16_action(**data) if self.generation == "n1.6" else self._n15_action(data)
                elif ep == "reset" and self.generation == "n1.6":
                    result = {}
                else:
                    self.unknown_endpoints.append(ep)
                    raise ValueError(f"Unknown endpoint: {ep}")
                self.sock.send(peer_pack(result))
            except Exception as e:  # noqa: BLE001 - as GR00T's servers: every failure becomes {"error": str(e)}
                self.sock.send(peer_pack({"error": str(e)}))
        self.sock.close(linger=0)
        self.ctx.term()

    def stop(self) -> None:
        if self.thread.is_alive():
            with contextlib.suppress(Exception):
                c = PeerClient(self.port, self.generation, self.api_token, timeout_ms=2000)
                try:
                    c.sock.send(
                        peer_pack({"endpoint": "kill", **({"api_token": self.api_token} if self.api_token else {})})
                    )
                    c.sock.recv()
                finally:
                    c.close()
        self.thread.join(timeout=5)
