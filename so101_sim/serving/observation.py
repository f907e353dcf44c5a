"""Observation and action layouts of the GR00T protocol, and their validation.

Two observation layouts exist (see ``docs/serving.md``):

nested (GR00T N1.6/N1.7 ``Gr00tPolicy``)
    ``{"video": {cam: uint8 (B, T, H, W, 3)}, "state": {key: float32 (B, T, D)},
    "language": {key: [[text]] * B}}``; actions come back as ``{key: float32 (B, T_action, D)}``.
flat (GR00T N1.5 policies, N1.6 ``Gr00tSimPolicyWrapper``)
    ``{"video.<cam>": ..., "state.<key>": ..., "annotation.human.task_description": [text] * B}``; actions come
    back as ``{"action.<key>": ...}``. N1.5 SO-100 clients leave out the batch axis (``(T, H, W, 3)``,
    ``(T, D)``) and send float64 state; the server then answers without it too (``(T_action, D)``).

And two envelopes for ``get_action``'s ``data``: ``{"observation": obs, "options": ...}`` answered with
``[actions, info]`` (every N1.6/N1.7 server unpacks ``**data``, so the sim wrapper's flat layout travels in it
too), or the observation itself answered with the action map (N1.5). The server detects layout, envelope and
batching per request and answers in kind; the client picks them from the server's generation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from so101_sim.serving.mapping import (
    CAMERA_ALIASES,
    LANGUAGE_KEYS,
    WHOLE_VECTOR_KEYS,
    ProtocolMapping,
    split_vector,
)
from so101_sim.serving.wire import ProtocolError


@dataclass
class ProtocolObservation:
    """A decoded, validated observation: always batched, always with a time axis."""

    video: dict[str, np.ndarray]  # protocol camera -> uint8 (B, T, H, W, 3)
    state: dict[str, np.ndarray]  # protocol state key -> float32 (B, T, D)
    task: list[str]  # B instructions

    @property
    def batch_size(self) -> int:
        return len(self.task)


@dataclass(frozen=True)
class ReplyStyle:
    """How the request was laid out, so that the reply matches it."""

    format: str  # "nested" | "flat"
    envelope: str  # "observation" | "bare"
    batched: bool
    whole_vector_key: str | None = None  # state came as one key (e.g. joint_positions): answer the action so too


@dataclass(frozen=True)
class RequestLayout:
    """How a client lays out ``get_action``'s data for one server."""

    format: str = "nested"  # "nested" | "flat"
    envelope: str = "observation"  # "observation" | "bare"
    language_key: str = "annotation.human.task_description"


# ----------------------------------------------------------------------------------------------------------------
# Client side: build a request, read a reply
# ----------------------------------------------------------------------------------------------------------------


def _with_time_axis(name: str, arr: np.ndarray, image: bool) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == (4 if image else 2):  # (B, H, W, 3) / (B, D): one frame
        arr = arr[:, None]
    if image and (arr.ndim != 5 or arr.shape[-1] != 3 or arr.dtype != np.uint8):
        raise ValueError(
            f"camera {name!r}: expected uint8 (B, H, W, 3) or (B, T, H, W, 3), got {arr.dtype} {arr.shape}"
        )
    if not image and arr.ndim != 3:
        raise ValueError(f"state {name!r}: expected (B, D) or (B, T, D), got {arr.shape}")
    return np.ascontiguousarray(arr if image else arr.astype(np.float32, copy=False))


def encode_observation(
    video: dict[str, np.ndarray],
    state: dict[str, np.ndarray],
    task: str | list[str],
    layout: RequestLayout,
) -> dict[str, Any]:
    """Protocol-keyed arrays -> ``get_action``'s ``data`` in the given layout and envelope.

    ``video``: protocol camera -> uint8 (B, H, W, 3) or (B, T, H, W, 3); ``state``: protocol key -> (B, D) or
    (B, T, D), sent as float32 (GR00T N1.6 refuses anything else).
    """
    vid = {cam: _with_time_axis(cam, img, True) for cam, img in video.items()}
    parts = {k: _with_time_axis(k, v, False) for k, v in state.items()}
    sizes = {k: v.shape[0] for k, v in {**vid, **parts}.items()}
    if not sizes:
        raise ValueError("an observation needs at least one camera or state key")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"observation arrays disagree on the batch size: {sizes}")
    batch = next(iter(sizes.values()))
    texts = [task] * batch if isinstance(task, str) else [str(t) for t in task]
    if len(texts) != batch:
        raise ValueError(f"got {len(texts)} instructions for a batch of {batch}")
    if layout.format == "nested":
        obs: dict[str, Any] = {"video": vid, "state": parts, "language": {layout.language_key: [[t] for t in texts]}}
    else:
        obs = {f"video.{k}": v for k, v in vid.items()}
        obs.update({f"state.{k}": v for k, v in parts.items()})
        obs[layout.language_key] = texts
    if layout.envelope == "observation":
        return {"observation": obs, "options": None}
    return obs


def decode_actions(reply: Any) -> dict[str, np.ndarray]:
    """A ``get_action`` reply of either envelope/layout -> {action key (no ``action.`` prefix): (B, T, D)}."""
    if isinstance(reply, (list, tuple)):
        if len(reply) != 2 or not isinstance(reply[0], dict):
            raise ProtocolError(f"a list reply to get_action must be [actions, info], got a list of {len(reply)}")
        reply = reply[0]
    if not isinstance(reply, dict):
        raise ProtocolError(f"get_action reply must be a map, got {type(reply).__name__}")
    out = {}
    for key, value in reply.items():
        if not isinstance(value, np.ndarray):
            continue  # GR00T servers may add non-array extras; actions are arrays
        name = key.removeprefix("action.")
        arr = value.astype(np.float32, copy=False)
        if arr.ndim == 2:  # unbatched (T, D) from an N1.5 server
            arr = arr[None]
        if arr.ndim != 3:
            raise ProtocolError(f"action {key!r} must be (B, T, D) or (T, D), got {value.shape}")
        out[name] = arr
    if not out:
        raise ProtocolError(f"get_action reply holds no action arrays (keys: {sorted(reply)})")
    return out


# ----------------------------------------------------------------------------------------------------------------
# Server side: read and validate a request, write a reply
# ----------------------------------------------------------------------------------------------------------------


def _find_task(obs: dict[str, Any], nested: bool, key: str) -> Any:
    """The instruction under the declared key or any known GR00T language key; an error when there is none."""
    candidates = (key, *[k for k in LANGUAGE_KEYS if k != key])
    if nested:
        lang = obs.get("language")
        if lang is None:
            lang = {}
        if not isinstance(lang, dict):
            raise ProtocolError(f"'language' must be a map like {{{key!r}: [[text]] * B}}, got {type(lang).__name__}")
        for k in candidates:
            if k in lang:
                return lang[k]
        raise ProtocolError(
            f"the observation has no instruction: expected language[{key!r}] = [[text]] * B (also read: "
            f"{list(candidates[1:])}); got language keys {sorted(map(str, lang))}"
        )
    for k in candidates:
        if k in obs:
            return obs[k]
    raise ProtocolError(
        f"the observation has no instruction: expected {key!r} = [text] * B (also read: {list(candidates[1:])}); "
        f"got keys {sorted(map(str, obs))}"
    )


def _task_list(raw: Any, batch: int) -> list[str]:
    if isinstance(raw, (str, bytes)):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        raise ProtocolError(f"the instruction must be a string or a list of B strings, got {type(raw).__name__}")
    texts = []
    for item in raw:
        if isinstance(item, (list, tuple)):  # nested [[text]]: one entry per time step, use the last
            if not item:
                raise ProtocolError("an instruction entry is an empty list")
            item = item[-1]
        if isinstance(item, bytes):
            item = item.decode("utf-8", "replace")
        if not isinstance(item, str):
            raise ProtocolError(f"instructions must be strings, got {type(item).__name__}")
        texts.append(item)
    if len(texts) == 1 and batch > 1:
        texts = texts * batch
    if len(texts) != batch:
        raise ProtocolError(f"got {len(texts)} instructions for a batch of {batch}")
    return texts


def _camera_names(proto: str, env_camera: str) -> list[str]:
    """Names a request may use for one served camera: its protocol name, the env camera, GR00T's aliases of it."""
    names = [proto, env_camera, *[a for a, target in CAMERA_ALIASES.items() if target == env_camera]]
    return list(dict.fromkeys(names))


def decode_observation(
    data: Any,
    mapping: ProtocolMapping,
    resolutions: dict[str, tuple[int, int]] | None = None,
) -> tuple[ProtocolObservation, ReplyStyle]:
    """Validate ``get_action``'s ``data`` against the mapping; every problem names the key and expected shape.

    ``resolutions`` (protocol camera -> (H, W)) are enforced when given. A camera may arrive under its protocol
    name, its env camera name or a GR00T alias of it (``front``/``scene_camera`` for camera1, ``wrist``/
    ``wrist_camera`` for camera2); the robot state under its keys or as one ``joint_positions`` key.
    """
    if not isinstance(data, dict):
        raise ProtocolError(f"get_action data must be a map, got {type(data).__name__}")
    envelope = "bare"
    obs = data
    if isinstance(data.get("observation"), dict):
        envelope, obs = "observation", data["observation"]
    nested = isinstance(obs.get("video"), dict) or isinstance(obs.get("state"), dict)
    if nested:
        video_in, state_in = obs.get("video", {}), obs.get("state", {})
        if not isinstance(video_in, dict) or not isinstance(state_in, dict):
            raise ProtocolError("nested observation: 'video' and 'state' must both be maps")
    else:
        video_in = {k[6:]: v for k, v in obs.items() if isinstance(k, str) and k.startswith("video.")}
        state_in = {k[6:]: v for k, v in obs.items() if isinstance(k, str) and k.startswith("state.")}
        if not video_in and not state_in:
            raise ProtocolError(
                "observation has neither nested 'video'/'state'/'language' maps nor flat 'video.<camera>'/"
                f"'state.<key>' keys; got keys {sorted(map(str, obs))}"
            )

    def name(kind: str, key: str) -> str:
        return f"{kind}[{key!r}]" if nested else f"'{kind}.{key}'"

    cams = list(mapping.video or {})
    sources: dict[str, str] = {}  # protocol camera -> the key it arrived under
    for cam in cams:
        env_cam = ProtocolMapping.env_camera((mapping.video or {})[cam])
        found = next((n for n in _camera_names(cam, env_cam) if n in video_in), None)
        if found is not None:
            sources[cam] = found
    robot_split = dict(mapping.state or {})
    state_split = mapping.all_state_keys
    whole_key = None
    if robot_split and not all(k in state_in for k in robot_split):
        whole_key = next((k for k in WHOLE_VECTOR_KEYS if k in state_in), None)
    missing = [name("video", c) for c in cams if c not in sources]
    missing += [name("state", k) for k in state_split if k not in state_in and not (whole_key and k in robot_split)]
    if missing:
        raise ProtocolError(
            f"observation is missing {missing}; it has video {sorted(video_in)} and state {sorted(state_in)} "
            f"(expected cameras {cams}, state keys {list(state_split)})"
        )

    batched: bool | None = None

    def check_batching(label: str, arr: np.ndarray, full_ndim: int) -> np.ndarray:
        nonlocal batched
        this_batched = arr.ndim == full_ndim
        if batched is None:
            batched = this_batched
        elif batched != this_batched:
            raise ProtocolError(f"{label} has shape {arr.shape}: mixing batched and unbatched arrays")
        return arr if this_batched else arr[None]

    video: dict[str, np.ndarray] = {}
    for cam in cams:
        arr = video_in[sources[cam]]
        label = name("video", sources[cam])
        if not isinstance(arr, np.ndarray):
            raise ProtocolError(f"{label} must be an ndarray, got {type(arr).__name__}")
        if arr.dtype != np.uint8:
            raise ProtocolError(f"{label} must be uint8, got {arr.dtype}")
        hw = (resolutions or {}).get(cam)
        want = f"(B, T, {hw[0]}, {hw[1]}, 3)" if hw else "(B, T, H, W, 3)"
        if arr.ndim not in (4, 5) or arr.shape[-1] != 3 or 0 in arr.shape:
            raise ProtocolError(f"{label} must have shape {want} (or without B), got {arr.shape}")
        arr = check_batching(label, arr, 5)
        if hw and tuple(arr.shape[2:4]) != tuple(hw):
            raise ProtocolError(f"{label} must have shape {want}, got {arr.shape}")
        video[cam] = arr

    def read_state(key: str, dim: int) -> np.ndarray:
        arr = state_in[key]
        label = name("state", key)
        if not isinstance(arr, np.ndarray):
            raise ProtocolError(f"{label} must be an ndarray, got {type(arr).__name__}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise ProtocolError(f"{label} must be float32, got {arr.dtype}")
        if arr.ndim not in (2, 3) or arr.shape[-1] != dim or 0 in arr.shape:
            raise ProtocolError(f"{label} must have shape (B, T, {dim}) (or (T, {dim})), got {arr.shape}")
        arr = check_batching(label, arr, 3)
        if not np.all(np.isfinite(arr)):
            raise ProtocolError(f"{label} contains NaN or inf")
        return arr.astype(np.float32, copy=False)

    state: dict[str, np.ndarray] = {}
    if whole_key:
        state.update(split_vector(read_state(whole_key, sum(robot_split.values())), robot_split, "state"))
    for key, dim in state_split.items():
        if key not in state:
            state[key] = read_state(key, dim)
    sizes = {k: v.shape[0] for k, v in {**video, **state}.items()}
    if len(set(sizes.values())) > 1:
        raise ProtocolError(f"arrays disagree on the batch size: {sizes}")
    batch = next(iter(sizes.values()), 1)
    task = _task_list(_find_task(obs, nested, mapping.resolved_language_key), batch)
    style = ReplyStyle(
        "nested" if nested else "flat", envelope, bool(batched) if batched is not None else True, whole_key
    )
    return ProtocolObservation(video, state, task), style


def encode_actions(chunks: dict[str, np.ndarray], style: ReplyStyle) -> Any:
    """{key: (B, T, D)} -> the reply matching the request's layout, batching and envelope."""
    if style.whole_vector_key:  # the request sent the state as one vector: the action goes back as one too
        chunks = {style.whole_vector_key: np.concatenate(list(chunks.values()), axis=-1)}
    out = {}
    for key, arr in chunks.items():
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not style.batched:
            arr = arr[0]
        out[key if style.format == "nested" else f"action.{key}"] = arr
    return [out, {}] if style.envelope == "observation" else out
