"""Per-world observation histories, so that a client can send the frames a server's ``delta_indices`` ask for.

A GR00T modality config such as ``video: delta_indices [-2, -1, 0]`` wants the current frame and the two before
it. :class:`ObservationHistory` keeps the last few steps of every array (``(B, ...)`` each, one entry per world)
and stacks the requested offsets into ``(B, T, ...)``. At the start of an episode the missing past steps repeat
the oldest step seen, as LeRobot and GR00T pad the start of a dataset episode.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class ObservationHistory:
    """The last ``depth`` steps of named ``(B, ...)`` arrays; :meth:`gather` stacks offsets into ``(B, T, ...)``."""

    def __init__(self, *delta_lists: list[int]) -> None:
        deltas = [d for lst in delta_lists for d in lst] or [0]
        future = [d for d in deltas if d > 0]
        if future:
            raise ValueError(f"observation delta_indices must be <= 0 (past or current steps), got {sorted(deltas)}")
        self.depth = 1 - min(deltas)
        self._steps: deque[dict[str, np.ndarray]] = deque(maxlen=self.depth)

    def reset(self) -> None:
        """Forget everything (a new batch of episodes starts)."""
        self._steps.clear()

    def push(self, arrays: dict[str, np.ndarray]) -> None:
        """Record one step: name -> (B, ...) array (copied when kept past this step: env buffers may be reused)."""
        keep = self.depth > 1
        self._steps.append({k: np.array(v, copy=True) if keep else np.asarray(v) for k, v in arrays.items()})

    def gather(self, name: str, deltas: list[int]) -> np.ndarray:
        """(B, len(deltas), ...) of ``name`` at the given offsets from the newest step."""
        if not self._steps:
            raise RuntimeError("no observation recorded yet")
        newest = len(self._steps) - 1
        frames = [self._steps[max(newest + d, 0)][name] for d in deltas]
        return np.stack(frames, axis=1)
