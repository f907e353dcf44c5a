"""Test-wide settings (offline robot meshes, offline Hugging Face, headless GL) and the no-skip rule.

No skips. A skipped test is a test that did not run, and a suite can stay green with whole parts of it unrun
(a missing file, an import error in the project's own code, a plugin that did not register). So every skip
and every xfail is turned into a failure here, whatever raised it: ``pytest.skip``, ``skipif``,
``importorskip`` (also at module level), ``xfail``.

The one allowed exception is explicit and reported: a test with no meaning on one LeRobot *line* (the CI legs
run the suite on several: ``lerobot04`` is LeRobot 0.4.x, ``lerobot06`` is 0.6.x) is marked::

    @pytest.mark.not_on_line("lerobot04", reason="lerobot_env_* plugin discovery exists from LeRobot 0.6")
    def test_env_plugin_is_discovered(): ...

On a listed line the test is skipped before it runs, and the run ends with a section that lists every such
test with its reason (nothing is hidden in ``-ra`` noise). On every other line it runs normally. The current
line is derived from the installed LeRobot version (``lerobot0.4.4`` -> ``lerobot04``); ``SO101_TEST_LINE``
overrides it (a leg that runs without LeRobot can set its own name). A marker naming no line, or a line
that does not look like one, is an error, so a typo cannot turn into a skip.
"""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_shared_menagerie = REPO.parent / "shared" / "menagerie"
if "MENAGERIE_ROOT" not in os.environ and _shared_menagerie.is_dir():
    os.environ["MENAGERIE_ROOT"] = str(_shared_menagerie)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

LINE_MARK = "not_on_line"
_LINE_NAME = re.compile(r"^[a-z][a-z0-9_]*\d+$")  # lerobot04, lerobot06, isaac30, ...
_ALLOWED = pytest.StashKey[str]()
_allowed_skips: list[tuple[str, str]] = []


def current_line() -> str:
    """The LeRobot line this run tests: ``SO101_TEST_LINE``, else from the installed lerobot version."""
    if os.environ.get("SO101_TEST_LINE"):
        return os.environ["SO101_TEST_LINE"]
    try:
        major, minor = metadata.version("lerobot").split(".")[:2]
    except metadata.PackageNotFoundError:
        return "nolerobot0"
    return f"lerobot{int(major)}{int(minor)}"


def _allowed_reason(item: pytest.Item) -> str | None:
    """The reason this test may be skipped on the current line, or None (then a skip fails it)."""
    line = current_line()
    for mark in item.iter_markers(LINE_MARK):
        reason = mark.kwargs.get("reason", "")
        bad = [x for x in mark.args if not isinstance(x, str) or not _LINE_NAME.match(x)]
        if not mark.args or bad or not reason:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.{LINE_MARK} needs line names such as 'lerobot04' and a reason=...; "
                f"got args={mark.args!r} reason={reason!r}"
            )
        if line in mark.args:
            return f"not on {line}: {reason}"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _allowed_reason(item)
    if reason is not None:
        item.stash[_ALLOWED] = reason
        pytest.skip(reason)


def _as_failure(report, what: str) -> None:
    detail = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr or "")
    if getattr(report, "wasxfail", None) is not None:
        detail = f"xfail: {report.wasxfail}"
        del report.wasxfail  # else pytest does not count the failure in the exit status
    report.outcome = "failed"
    report.longrepr = (
        f"{what} was skipped ({detail}); skips fail this suite (tests/conftest.py). Make it run, or, if it has no "
        f"meaning on this LeRobot line ({current_line()}), mark it @pytest.mark.{LINE_MARK}('<line>', reason=...)."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped and getattr(report, "wasxfail", None) is None:
        return
    allowed = item.stash.get(_ALLOWED, None)
    if allowed is not None and report.skipped:
        if report.when == "setup":
            _allowed_skips.append((item.nodeid, allowed))
        return
    _as_failure(report, item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module-level ``importorskip`` / ``pytest.skip(allow_module_level=True)`` skips a whole file: fail it."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped:
        _as_failure(report, f"collecting {collector.nodeid}")


def pytest_terminal_summary(terminalreporter) -> None:
    if _allowed_skips:
        terminalreporter.section(f"allowed skips ({LINE_MARK}, this line: {current_line()})")
        for nodeid, reason in _allowed_skips:
            terminalreporter.line(f"{nodeid}: {reason}")
