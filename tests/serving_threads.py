"""A policy server running in a thread for the length of a ``with`` block (shared by the serving tests)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from so101_sim.serving import PolicyServer


@contextlib.contextmanager
def server_thread(server: PolicyServer, join_timeout: float = 5.0) -> Iterator[PolicyServer]:
    """Serve ``server`` in its thread during the block; on exit stop it and check that the thread ended."""
    thread = server.start_thread()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=join_timeout)
        assert not thread.is_alive(), "server thread did not stop"
