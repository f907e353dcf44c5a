"""Observation and action layouts of the GR00T protocol, and their validation.

Two observation layouts exist (see ``docs/serving.md``):

nested (GR00T N1.6 ``Gr00tPolicy``)
    ``{"video": {cam: uint8 (B, T, H, W, 3)}, "state": {key: float32 (B, T, D)},
    "language": {"task": [[text]] * B}}``; actions come back as ``{key: float32 (B, T_action, D)}``.
flat (GR00T N1.5 service, N1.6 sim wrapper)
    ``{"video.<cam>": ..., "state.<key>": ..., "annotation.human.task_description": [text] * B}``; actions come
    back as ``{"action.<key>": ...}``. N1.5 clients often leave out the batch axis (``(T, H, W, 3)``,
    ``(T, D)``); the server then answers without it too (``(T_action, D)``).

And two envelopes for ``get_action``'s ``data``: ``{"observation": obs, "options": ...}`` answered with
``[actions, info]`` (N1.6 ``PolicyClient``), or the observation itself answered with the action map (N1.5).
The server detects layout, envelope and batching per request and answers in kind; the client picks them from
its :class:`~so101_sim.serving.mapping.ProtocolMapping`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from so101_sim.serving.mapping import FLAT_LANGUAGE_CANDIDATES, ProtocolMapping, split_vector, split_vector_keys
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


# ----------------------------------------------------------------------------------------------------------------
# Client side: build a request, read a reply
# ----------------------------------------------------------------------------------------------------------------


def _as_batched_video(name: str, img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 4:  # (B, H, W, 3): add the time axis
        img = img[:, None]
    if img.ndim != 5 or img.shape[-1] != 3 or img.dtype != np.uint8:
        raise ValueError(
            f"camera {name!r}: expected uint8 (B, H, W, 3) or (B, T, H, W, 3), got {img.dtype} {img.shape}"
        )
    return np.ascontiguousarray(img)


def encode_observation(
    video: dict[str, np.ndarray],
    state: np.ndarray | dict[str, np.ndarray],
    task: str | list[str],
    mapping: ProtocolMapping,
) -> dict[str, Any]:
    """Env-side arrays -> ``get_action``'s ``data`` in the mapping's layout and envelope.

    ``video`` is keyed by protocol camera, (B, H, W, 3) or (B, T, H, W, 3) uint8. ``state`` is either the full
    (B, D)/(B, T, D) vector, split by ``mapping.state``, or already a map of protocol keys.
    """
    vid = {cam: _as_batched_video(cam, img) for cam, img in video.items()}
    if isinstance(state, dict):
        parts = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}
    else:
        vec = np.asarray(state, dtype=np.float32)
        parts = split_vector(vec, mapping.state or split_vector_keys(vec.shape[-1]), "state")
    parts = {k: np.ascontiguousarray(v[:, None] if v.ndim == 2 else v) for k, v in parts.items()}
    sizes = {k: v.shape[0] for k, v in {**vid, **parts}.items()}
    if not sizes:
        raise ValueError("an observation needs at least one camera or state key")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"observation arrays disagree on the batch size: {sizes}")
    batch = next(iter(sizes.values()))
    texts = [task] * batch if isinstance(task, str) else [str(t) for t in task]
    if len(texts) != batch:
        raise ValueError(f"got {len(texts)} instructions for a batch of {batch}")
    lang_key = mapping.resolved_language_key
    if mapping.format == "nested":
        obs: dict[str, Any] = {"video": vid, "state": parts, "language": {lang_key: [[t] for t in texts]}}
    else:
        obs = {f"video.{k}": v for k, v in vid.items()}
        obs.update({f"state.{k}": v for k, v in parts.items()})
        obs[lang_key] = texts
    if mapping.resolved_envelope == "observation":
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
    if nested:
        lang = obs.get("language", {})
        if not isinstance(lang, dict):
            raise ProtocolError(f"'language' must be a map like {{{key!r}: [[text]] * B}}, got {type(lang).__name__}")
        if key in lang:
            return lang[key]
        if len(lang) == 1:  # a peer using another language key name (e.g. annotation.human.task_description)
            return next(iter(lang.values()))
        if not lang:
            return None
        raise ProtocolError(f"'language' has keys {sorted(lang)} but not {key!r}")
    for k in (key, *FLAT_LANGUAGE_CANDIDATES):
        if k in obs:
            return obs[k]
    others = [k for k in obs if k.startswith("annotation.")]
    return obs[others[0]] if others else None


def _task_list(raw: Any, batch: int) -> list[str]:
    if raw is None:
        return [""] * batch
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


def decode_observation(
    data: Any,
    mapping: ProtocolMapping,
    resolutions: dict[str, tuple[int, int]] | None = None,
) -> tuple[ProtocolObservation, ReplyStyle]:
    """Validate ``get_action``'s ``data`` against the mapping; every problem names the key and expected shape.

    ``resolutions`` (protocol camera -> (H, W)) are enforced when given.
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
    prefix_v, prefix_s = ("video", "state") if nested else ("video.", "state.")

    def name(kind: str, key: str) -> str:
        return f"{kind}[{key!r}]" if nested else f"'{kind}.{key}'"

    cams = list(mapping.video or {})
    state_split = mapping.all_state_keys
    missing = [name("video", c) for c in cams if c not in video_in]
    missing += [name("state", k) for k in state_split if k not in state_in]
    if missing:
        raise ProtocolError(
            f"observation is missing {missing}; it has video {sorted(video_in)} and state {sorted(state_in)} "
            f"(expected cameras {cams}, state keys {list(state_split)})"
        )

    batched: bool | None = None
    batch: int | None = None
    video: dict[str, np.ndarray] = {}
    for cam in cams:
        arr = video_in[cam]
        label = name(prefix_v.rstrip("."), cam)
        if not isinstance(arr, np.ndarray):
            raise ProtocolError(f"{label} must be an ndarray, got {type(arr).__name__}")
        if arr.dtype != np.uint8:
            raise ProtocolError(f"{label} must be uint8, got {arr.dtype}")
        hw = (resolutions or {}).get(cam)
        want = f"(B, T, {hw[0]}, {hw[1]}, 3)" if hw else "(B, T, H, W, 3)"
        if arr.ndim not in (4, 5) or arr.shape[-1] != 3 or 0 in arr.shape:
            raise ProtocolError(f"{label} must have shape {want} (or without B), got {arr.shape}")
        this_batched = arr.ndim == 5
        if batched is None:
            batched = this_batched
        elif batched != this_batched:
            raise ProtocolError(f"{label} has shape {arr.shape}: mixing batched and unbatched arrays")
        arr = arr if this_batched else arr[None]
        if hw and tuple(arr.shape[2:4]) != tuple(hw):
            raise ProtocolError(f"{label} must have shape {want}, got {arr.shape}")
        video[cam] = arr
    state: dict[str, np.ndarray] = {}
    for key, dim in state_split.items():
        arr = state_in[key]
        label = name(prefix_s.rstrip("."), key)
        if not isinstance(arr, np.ndarray):
            raise ProtocolError(f"{label} must be an ndarray, got {type(arr).__name__}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise ProtocolError(f"{label} must be float32, got {arr.dtype}")
        if arr.ndim not in (2, 3) or arr.shape[-1] != dim or 0 in arr.shape:
            raise ProtocolError(f"{label} must have shape (B, T, {dim}) (or (T, {dim})), got {arr.shape}")
        this_batched = arr.ndim == 3
        if batched is None:
            batched = this_batched
        elif batched != this_batched:
            raise ProtocolError(f"{label} has shape {arr.shape}: mixing batched and unbatched arrays")
        arr = arr if this_batched else arr[None]
        if not np.all(np.isfinite(arr)):
            raise ProtocolError(f"{label} contains NaN or inf")
        state[key] = arr.astype(np.float32, copy=False)
    sizes = {k: v.shape[0] for k, v in {**video, **state}.items()}
    if len(set(sizes.values())) > 1:
        raise ProtocolError(f"arrays disagree on the batch size: {sizes}")
    batch = next(iter(sizes.values()), 1)
    task = _task_list(_find_task(obs, nested, mapping.resolved_language_key), batch)
    style = ReplyStyle("nested" if nested else "flat", envelope, bool(batched) if batched is not None else True)
    return ProtocolObservation(video, state, task), style


def encode_actions(chunks: dict[str, np.ndarray], style: ReplyStyle) -> Any:
    """{key: (B, T, D)} -> the reply matching the request's layout, batching and envelope."""
    out = {}
    for key, arr in chunks.items():
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not style.batched:
            arr = arr[0]
        out[key if style.format == "nested" else f"action.{key}"] = arr
    return [out, {}] if style.envelope == "observation" else out
