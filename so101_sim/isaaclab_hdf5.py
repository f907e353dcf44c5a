"""Isaac Lab's demonstration file layout (``HDF5DatasetFileHandler``), written one step at a time.

The layout, as Isaac Lab's recorder writes it::

    data/                       attrs: total (int64, frames over all demos), env_args (JSON str: env_name, type=2, ...)
      demo_0/                   attrs: num_samples (int64), seed (int64, optional), success (bool, optional)
        actions                 (T, A)            gzip
        obs/<term>              (T, ...)          gzip
        <other groups>          (initial_state, states, ...: not written here, ignored by the converter)
      demo_1/ ...

:class:`IsaacLabHDF5Writer` streams demos into that layout with bounded memory (steps are buffered up to one
HDF5 chunk, then appended to resizable gzip datasets), so a simulator can record arbitrarily long sessions. The
file is written under a temporary name beside the target and renamed into place by :meth:`close`; an
interrupted recording never leaves a half-written file at the target path.

Usage::

    with IsaacLabHDF5Writer("demos.hdf5", env_name="so101_sim/Lift-v0", env_args={"fps": 30}) as w:
        w.begin_demo(seed=0)
        for obs, action in rollout:
            w.add_step(obs, action)          # obs: {"joint_pos": (6,), "front": (H, W, 3) uint8, ...}
        w.end_demo(success=True)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self

import h5py
import numpy as np

log = logging.getLogger(__name__)

DEMO_NAME_RE = re.compile(r"^demo_(\d+)$")


def sorted_demo_names(names: Iterable[str]) -> list[str]:
    """``demo_<i>`` names in numeric order (``demo_2`` before ``demo_10``); other names are dropped."""
    found = [(int(m.group(1)), n) for n in names if (m := DEMO_NAME_RE.match(n))]
    return [n for _, n in sorted(found)]


class _StepBuffer:
    """Steps of one dataset, kept in memory until a chunk is full, then appended to the HDF5 dataset."""

    def __init__(
        self,
        group: h5py.Group,
        name: str,
        first: np.ndarray,
        chunk_frames: int,
        compression: str | None,
        compression_opts: Any,
    ) -> None:
        self.shape = first.shape
        self.dtype = first.dtype
        self.name = name
        self.rows: list[np.ndarray] = []
        self.dataset = group.create_dataset(
            name,
            shape=(0, *first.shape),
            maxshape=(None, *first.shape),
            dtype=first.dtype,
            chunks=(chunk_frames, *first.shape),
            compression=compression,
            compression_opts=compression_opts,
        )
        self.chunk_frames = chunk_frames

    def append(self, value: np.ndarray) -> None:
        if value.shape != self.shape:
            raise ValueError(f"'{self.name}': step shape {value.shape} differs from the demo's first step {self.shape}")
        self.rows.append(np.asarray(value, dtype=self.dtype))
        if len(self.rows) >= self.chunk_frames:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        n0 = self.dataset.shape[0]
        self.dataset.resize(n0 + len(self.rows), axis=0)
        self.dataset[n0:] = np.stack(self.rows)
        self.rows.clear()


def _chunk_frames(frame_nbytes: int, target_bytes: int = 1 << 20) -> int:
    """Frames per chunk: about 1 MiB per chunk (at least one frame, at most 1024)."""
    return int(max(1, min(1024, target_bytes // max(1, frame_nbytes))))


class IsaacLabHDF5Writer:
    """Write demonstrations in Isaac Lab's ``HDF5DatasetFileHandler`` layout, one step at a time."""

    def __init__(
        self,
        path: str | os.PathLike,
        env_name: str = "",
        env_args: Mapping[str, Any] | None = None,
        *,
        compression: str | None = "gzip",
        compression_opts: Any = None,
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True to replace it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp_path = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._file: h5py.File | None = h5py.File(self._tmp_path, "w")
        self._data = self._file.create_group("data")
        self._data.attrs["total"] = np.int64(0)
        self._env_args: dict[str, Any] = {"env_name": env_name, "type": 2, **dict(env_args or {})}
        self._data.attrs["env_args"] = json.dumps(self._env_args)
        self._compression = compression
        self._compression_opts = compression_opts
        self._demo_count = 0
        self._demo: h5py.Group | None = None
        self._buffers: dict[str, _StepBuffer] = {}
        self._steps = 0

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def demo_count(self) -> int:
        """Demos completed so far."""
        return self._demo_count

    @property
    def env_args(self) -> dict[str, Any]:
        return dict(self._env_args)

    def add_env_args(self, env_args: Mapping[str, Any]) -> None:
        self._require_open()
        self._env_args.update(env_args)
        self._data.attrs["env_args"] = json.dumps(self._env_args)

    # -- demos -----------------------------------------------------------------------------------------------
    def begin_demo(self, seed: int | None = None) -> str:
        """Start ``demo_<i>``; returns its name."""
        self._require_open()
        if self._demo is not None:
            raise RuntimeError("begin_demo() called while a demo is open; call end_demo() or discard_demo() first")
        name = f"demo_{self._demo_count}"
        self._demo = self._data.create_group(name)
        if seed is not None:
            self._demo.attrs["seed"] = np.int64(seed)
        self._buffers = {}
        self._steps = 0
        return name

    def add_step(self, obs: Mapping[str, np.ndarray], action: np.ndarray) -> None:
        """Append one step: ``obs`` maps term names to arrays (written under ``obs/<term>``), ``action`` (A,)."""
        if self._demo is None:
            raise RuntimeError("add_step() called outside a demo; call begin_demo() first")
        items = {"actions": np.asarray(action)}
        items.update({f"obs/{k}": np.asarray(v) for k, v in obs.items()})
        if self._steps == 0:
            for key, value in items.items():
                self._buffers[key] = _StepBuffer(
                    self._demo, key, value, _chunk_frames(value.nbytes), self._compression, self._compression_opts
                )
        elif set(items) != set(self._buffers):
            raise ValueError(
                f"step {self._steps} of {self._demo.name}: keys {sorted(items)} differ from the first step's "
                f"{sorted(self._buffers)}"
            )
        for key, value in items.items():
            self._buffers[key].append(value)
        self._steps += 1

    def end_demo(self, success: bool | None = None) -> str:
        """Close the current demo (attrs ``num_samples``, ``success``), add its steps to ``data.attrs['total']``."""
        if self._demo is None:
            raise RuntimeError("end_demo() called without begin_demo()")
        for buf in self._buffers.values():
            buf.flush()
        demo = self._demo
        demo.attrs["num_samples"] = np.int64(self._steps)
        if success is not None:
            demo.attrs["success"] = np.bool_(success)
        self._data.attrs["total"] = np.int64(self._data.attrs["total"] + self._steps)
        self._demo = None
        self._buffers = {}
        self._demo_count += 1
        self._file.flush()
        return demo.name.rsplit("/", 1)[-1]

    def discard_demo(self) -> None:
        """Drop the open demo (e.g. an episode aborted by the user); the next demo reuses its index."""
        if self._demo is None:
            return
        name = self._demo.name
        self._demo = None
        self._buffers = {}
        del self._file[name]

    # -- file ------------------------------------------------------------------------------------------------
    def close(self) -> Path:
        """Finish the file and move it into place. An open demo is discarded (it has no end state)."""
        if self._file is None:
            return self.path
        self.discard_demo()
        self._file.close()
        self._file = None
        os.replace(self._tmp_path, self.path)
        return self.path

    def abort(self) -> None:
        """Delete the temporary file; nothing appears at the target path."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # A writer dropped without close() leaves no temporary file behind (its demos had no complete file).
        if getattr(self, "_file", None) is not None:
            log.warning("IsaacLabHDF5Writer for %s was dropped without close(); discarding it", self.path)
            with contextlib.suppress(Exception):
                self.abort()

    def _require_open(self) -> None:
        if self._file is None:
            raise RuntimeError("the writer is closed")
