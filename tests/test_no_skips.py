"""The suite's no-skip rule (tests/conftest.py): any skip or xfail fails the run; ``not_on_line`` is the only,
reported, exception. Each case runs pytest on small files beside a copy of the real conftest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")

CASES = '''
import pytest

def test_skip():
    pytest.skip("not there yet")

@pytest.mark.skipif(True, reason="file missing")
def test_skipif():
    pass

@pytest.mark.xfail(reason="later")
def test_xfail():
    assert False

@pytest.mark.not_on_line("lerobot04", reason="env plugins exist from 0.6")
def test_not_here():
    assert False, "not_on_line test ran"

def test_runs():
    pass
'''
MODULE_SKIP = "import pytest\npytest.importorskip('no_such_module_xyz')\n\ndef test_never():\n    pass\n"


def _pytest(tmp_path: Path, files: dict[str, str], line: str) -> subprocess.CompletedProcess:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    for name, source in files.items():
        (tmp_path / name).write_text(source)
    env = {**os.environ, "SO101_TEST_LINE": line}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning",
           "--continue-on-collection-errors", *files]  # fmt: skip
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_every_skip_fails_and_not_on_line_is_reported(tmp_path):
    done = _pytest(tmp_path, {"test_cases.py": CASES, "test_module_skip.py": MODULE_SKIP}, line="lerobot04")
    out = done.stdout
    assert done.returncode == 1, out
    for name in ("test_skip", "test_xfail"):  # raised in the test: a failure
        assert f"FAILED test_cases.py::{name} " in out, out
    assert "ERROR test_cases.py::test_skipif " in out, out  # a skip mark acts at setup: an error
    assert "ERROR test_module_skip.py" in out and "collecting test_module_skip.py was skipped" in out, out
    assert out.count("skips fail this suite") >= 4, out
    assert "1 passed" in out and "1 skipped" in out, out  # test_runs, and the allowed one
    assert "allowed skips" in out and "test_not_here: not on lerobot04: env plugins exist from 0.6" in out, out


def test_not_on_line_runs_on_other_lines_and_needs_a_reason(tmp_path):
    other = _pytest(tmp_path, {"test_cases.py": CASES}, line="lerobot06")
    assert "not_on_line test ran" in other.stdout and "allowed skips" not in other.stdout, other.stdout
    bare = _pytest(tmp_path, {"test_bare.py": "import pytest\n\n@pytest.mark.not_on_line('lerobot04')\n"
                                              "def test_a():\n    pass\n"}, line="lerobot04")  # fmt: skip
    assert bare.returncode != 0 and "needs line names" in bare.stdout + bare.stderr, bare.stdout
