"""Loud import failures for what registers this project's types with LeRobot (the ``plugins/*`` distributions
and ``so101-sim serve``).

lerobot's ``register_third_party_plugins()`` imports every plugin, catches whatever the import raises and goes
on; a broken install would then surface much later as "unknown env / policy / robot type". So each registering
import runs inside :func:`loud_import_failure`: a failure is logged at ERROR on the caller's logger, naming what
is now missing and the cause, and re-raised.

It lives in ``so101_sim`` itself (not ``so101_sim.lerobot``) so that it stays importable when the very import it
guards, ``so101_sim.lerobot``, is the one that fails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loud_import_failure(logger_name: str, importing: str, lost: str, remedy: str) -> Iterator[None]:
    """Log an exception raised in the ``with`` body at ERROR, then re-raise it.

    ``logger_name`` names the logger and starts the message (the plugin's name); ``importing`` says what was
    being imported; ``lost`` is the consequence as a clause (``"--robot.type=so101_sim is NOT registered"``);
    ``remedy`` is the fix, completed by " or fix the error above.".
    """
    try:
        yield
    except Exception as exc:
        logging.getLogger(logger_name).error(
            "%s: importing %s failed (%s: %s): %s. %s or fix the error above.",
            logger_name, importing, type(exc).__name__, exc, lost, remedy,
        )  # fmt: skip
        raise
