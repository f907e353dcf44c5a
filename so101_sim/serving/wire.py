"""Wire format of the Isaac-GR00T inference service: msgpack maps, with numpy arrays and modality configs tagged.

A numpy array travels as ``{"__ndarray_class__": True, "as_npy": <bytes written by numpy.save(...,
allow_pickle=False)>}`` in every generation. A GR00T ``ModalityConfig`` travels as
``{"__ModalityConfig_class__": True, "as_json": ...}``, where ``as_json`` differs by generation:

- N1.5 (``gr00t/eval/service.py``): a JSON *string* (pydantic ``model_dump_json()``); its clients ``json.loads`` it.
- N1.6/N1.7 (``gr00t/policy/server_client.py``): a *map* of the dataclass fields; its clients call
  ``ModalityConfig(**as_json)``, which refuses unknown fields and an empty ``modality_keys``.

Both forms are read (the form seen is kept in :attr:`ModalityConfig.wire_form`, which is how a client tells the
server's generation); each config is written in its ``wire_form``.

The earliest N1.5 servers serialised with ``torch.save`` (pickle). Such payloads are recognised
(:func:`looks_like_pickle`) and refused with a message: nothing is ever unpickled. Object arrays are refused by
``numpy.load(allow_pickle=False)``, and any malformed payload becomes a :class:`ProtocolError` that says what was
wrong.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

NDARRAY_TAG = "__ndarray_class__"
MODALITY_TAG = "__ModalityConfig_class__"


# Fields GR00T N1.6's ModalityConfig dataclass accepts (anything else makes its clients raise TypeError).
N16_MODALITY_FIELDS = ("delta_indices", "modality_keys", "sin_cos_embedding_keys", "mean_std_embedding_keys",
                       "action_configs")  # fmt: skip
PICKLE_PROTOCOL_MESSAGE = (
    "the early GR00T N1.5 pickle protocol (torch.save payloads); this side never unpickles network data, "
    "which could run arbitrary code: use an Isaac-GR00T release whose service speaks msgpack (later N1.5 "
    "releases, N1.6, N1.7)"
)


class ProtocolError(ValueError):
    """A message that does not follow the protocol (bad msgpack, bad array payload, wrong structure)."""


def looks_like_pickle(data: bytes | memoryview) -> bool:
    """Whether a payload is a ``torch.save`` zip archive or a raw pickle (protocol 2-5), not msgpack.

    ``0x80`` alone is also msgpack's empty map, so a pickle is recognised by its protocol byte after it.
    """
    head = bytes(data[:4])
    return head == b"PK\x03\x04" or (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5)


@dataclass
class ModalityConfig:
    """GR00T's per-modality sampling description: which time offsets and which keys a modality has.

    ``extra`` keeps fields this project does not interpret (GR00T N1.6's normalisation and action configs), so
    a config read from a GR00T server and sent on again loses nothing.
    """

    delta_indices: list[int]
    modality_keys: list[str]
    extra: dict[str, Any] = field(default_factory=dict)
    wire_form: str = field(default="map", compare=False)  # "map" (N1.6/N1.7) or "json" (N1.5 JSON string)

    def to_json_dict(self) -> dict[str, Any]:
        return {"delta_indices": list(self.delta_indices), "modality_keys": list(self.modality_keys), **self.extra}

    def encode(self) -> dict[str, Any]:
        """The tagged map in this config's ``wire_form``, with only the fields that generation's class accepts."""
        if self.wire_form == "json":  # N1.5's pydantic model has exactly these two fields
            body = {"delta_indices": list(self.delta_indices), "modality_keys": list(self.modality_keys)}
            return {MODALITY_TAG: True, "as_json": json.dumps(body)}
        body = {k: v for k, v in self.to_json_dict().items() if k in N16_MODALITY_FIELDS}
        return {MODALITY_TAG: True, "as_json": body}

    @classmethod
    def from_json_dict(cls, d: dict[str, Any], wire_form: str = "map") -> ModalityConfig:
        if not isinstance(d, dict) or "delta_indices" not in d or "modality_keys" not in d:
            raise ProtocolError(f"a ModalityConfig needs 'delta_indices' and 'modality_keys', got {d!r}")
        rest = {k: v for k, v in d.items() if k not in ("delta_indices", "modality_keys")}
        return cls([int(i) for i in d["delta_indices"]], [str(k) for k in d["modality_keys"]], rest, wire_form)


def array_to_npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def npy_bytes_to_array(payload: bytes) -> np.ndarray:
    if not isinstance(payload, (bytes, bytearray)):
        raise ProtocolError(f"'as_npy' must be bytes, got {type(payload).__name__}")
    try:
        return np.load(io.BytesIO(payload), allow_pickle=False)
    except Exception as e:  # numpy raises ValueError/EOFError/OSError for garbage
        raise ProtocolError(f"'as_npy' is not a valid .npy payload: {e}") from e


def _encode_custom(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("object arrays cannot be sent (numpy.save(allow_pickle=False) refuses them)")
        return {NDARRAY_TAG: True, "as_npy": array_to_npy_bytes(obj)}
    if isinstance(obj, ModalityConfig):
        return obj.encode()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} in a protocol message")


def _decode_custom(obj: dict) -> Any:
    if NDARRAY_TAG in obj:
        if "as_npy" not in obj:
            raise ProtocolError(f"a map tagged {NDARRAY_TAG!r} has no 'as_npy' field")
        return npy_bytes_to_array(obj["as_npy"])
    if MODALITY_TAG in obj:
        payload, form = obj.get("as_json"), "map"
        if isinstance(payload, (str, bytes)):
            form = "json"
            try:
                payload = json.loads(payload)
            except json.JSONDecodeError as e:
                raise ProtocolError(f"ModalityConfig 'as_json' is not JSON: {e}") from e
        return ModalityConfig.from_json_dict(payload, form)
    return obj


def pack(message: Any) -> bytes:
    """Encode one protocol message (a map, or for GR00T N1.6 ``get_action`` replies a 2-list)."""
    return msgpack.packb(message, default=_encode_custom, use_bin_type=True)


def unpack(data: bytes) -> Any:
    """Decode one protocol message; raises :class:`ProtocolError` for anything malformed."""
    if looks_like_pickle(data):
        raise ProtocolError(f"the message is in {PICKLE_PROTOCOL_MESSAGE}")
    try:
        return msgpack.unpackb(data, object_hook=_decode_custom, raw=False, strict_map_key=False)
    except ProtocolError:
        raise
    except Exception as e:  # msgpack raises several exception types for garbage
        raise ProtocolError(f"message is not valid msgpack: {type(e).__name__}: {e}") from e
