"""Wire format of the Isaac-GR00T inference service: msgpack maps, with numpy arrays and modality configs tagged.

A numpy array travels as ``{"__ndarray_class__": True, "as_npy": <bytes written by numpy.save(...,
allow_pickle=False)>}``; a GR00T ``ModalityConfig`` as ``{"__ModalityConfig_class__": True, "as_json": ...}``
(a JSON string in GR00T N1.5, a map in N1.6; both are read, the N1.6 map is written).

Decoding never unpickles: object arrays are refused by ``numpy.load(allow_pickle=False)``, and any malformed
payload becomes a :class:`ProtocolError` whose message says what was wrong.
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


class ProtocolError(ValueError):
    """A message that does not follow the protocol (bad msgpack, bad array payload, wrong structure)."""


@dataclass
class ModalityConfig:
    """GR00T's per-modality sampling description: which time offsets and which keys a modality has.

    ``extra`` keeps fields this project does not interpret (GR00T N1.6's normalisation and action configs), so
    a config read from a GR00T server and sent on again loses nothing.
    """

    delta_indices: list[int]
    modality_keys: list[str]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return {"delta_indices": list(self.delta_indices), "modality_keys": list(self.modality_keys), **self.extra}

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> ModalityConfig:
        if not isinstance(d, dict) or "delta_indices" not in d or "modality_keys" not in d:
            raise ProtocolError(f"a ModalityConfig needs 'delta_indices' and 'modality_keys', got {d!r}")
        rest = {k: v for k, v in d.items() if k not in ("delta_indices", "modality_keys")}
        return cls([int(i) for i in d["delta_indices"]], [str(k) for k in d["modality_keys"]], rest)


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
        return {MODALITY_TAG: True, "as_json": obj.to_json_dict()}
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
        payload = obj.get("as_json")
        if isinstance(payload, (str, bytes)):
            try:
                payload = json.loads(payload)
            except json.JSONDecodeError as e:
                raise ProtocolError(f"ModalityConfig 'as_json' is not JSON: {e}") from e
        return ModalityConfig.from_json_dict(payload)
    return obj


def pack(message: Any) -> bytes:
    """Encode one protocol message (a map, or for GR00T N1.6 ``get_action`` replies a 2-list)."""
    return msgpack.packb(message, default=_encode_custom, use_bin_type=True)


def unpack(data: bytes) -> Any:
    """Decode one protocol message; raises :class:`ProtocolError` for anything malformed."""
    try:
        return msgpack.unpackb(data, object_hook=_decode_custom, raw=False, strict_map_key=False)
    except ProtocolError:
        raise
    except Exception as e:  # msgpack raises several exception types for garbage
        raise ProtocolError(f"message is not valid msgpack: {type(e).__name__}: {e}") from e
