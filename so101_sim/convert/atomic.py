"""Build an output directory beside its target and move it into place only when complete.

A run works in ``<parent>/.<name>.partial-<pid>-<token>``. Success renames it to the target (after moving an
existing target aside when overwriting). Ctrl-C and SIGTERM unwind through ``finally`` and delete the partial
directory; after a SIGKILL it stays behind, never at the target, and the next run for the same target removes
partial directories whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM so that cleanup runs as for Ctrl-C."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(target: Path) -> list[Path]:
    """Delete ``.<name>.partial-<pid>-*`` directories beside ``target`` left by processes that no longer run."""
    removed = []
    if not target.parent.is_dir():
        return removed
    for path in target.parent.glob(f".{target.name}.partial-*"):
        try:
            pid = int(path.name.rsplit(".partial-", 1)[1].split("-", 1)[0])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def partial_path(target: Path) -> Path:
    """A fresh (non-existent) work path beside ``target`` on the same filesystem."""
    return target.parent / f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"


def publish(work: Path, target: Path, overwrite: bool) -> None:
    """Move the completed ``work`` directory to ``target``; an existing target is replaced only if ``overwrite``."""
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{target} appeared while converting; the result is left in {work}")
        old = target.parent / f".{target.name}.replaced-{os.getpid()}-{secrets.token_hex(4)}"
        os.replace(target, old)
        try:
            os.replace(work, target)
        except BaseException:
            os.replace(old, target)  # put the previous output back
            raise
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    else:
        os.replace(work, target)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Interrupted` while the block runs (main thread only; no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(f"received signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
