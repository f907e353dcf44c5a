#!/usr/bin/env bash
# Leg 30: the same suite (python -m pytest -q) on LeRobot 0.6.1, which needs Python >= 3.12.
#
# On a fresh Debian 12 machine the Python comes from Debian 13 (trixie) through the same Debian registry: a
# trixie source pinned low (priority 100, so nothing else is upgraded unless asked for with -t trixie) and
# python3.13-venv. Its venv is made --without-pip (ensurepip would need trixie's pip wheel package) and pip is
# bootstrapped from the pip wheel on PyPI. Nothing is downloaded outside the package registries.
# requirements.txt picks LeRobot by Python version (0.6.1 on >= 3.12), so this is the README's install command.
# Tests with no meaning on this line are marked not_on_line("lerobot06") and listed at the end (tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
VENV="${SO101_LEROBOT06_VENV:-${TMPDIR:-/tmp}/so101-ci-lerobot06}"

find_python() {
  for py in python3.13 python3.12; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import venv' >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

if ! PY=$(find_python); then
  echo "--- installing Python 3.13 from Debian trixie (pinned low)"
  if ! grep -rqs "trixie" /etc/apt/sources.list.d/ /etc/apt/sources.list; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: %s\n' \
      /usr/share/keyrings/debian-archive-keyring.gpg >/etc/apt/sources.list.d/trixie.sources
  fi
  if [ ! -e /etc/apt/preferences.d/trixie-low ]; then
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >/etc/apt/preferences.d/trixie-low
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie python3.13-venv >/dev/null
  PY=$(find_python)
fi
echo "--- $("$PY" --version) at $(command -v "$PY") ($(( $(date +%s) - start )) s)"

if [ ! -x "$VENV/bin/pip" ]; then
  rm -rf "$VENV"
  "$PY" -m venv --without-pip "$VENV"
  wheels=$(mktemp -d)
  pip download --quiet --no-deps --only-binary=:all: -d "$wheels" pip  # the machine's pip, from PyPI
  whl=$(ls "$wheels"/pip-*.whl)
  "$VENV/bin/python" "$whl/pip" install --quiet --no-index "$whl"
  rm -rf "$wheels"
fi
export PATH="$VENV/bin:$PATH"  # lerobot-* console scripts of this venv first

"$VENV/bin/python" -m pip install --quiet -r requirements.txt
version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("lerobot"))')
echo "--- installed lerobot $version ($(( $(date +%s) - start )) s)"
case "$version" in 0.6.*) ;; *) echo "expected LeRobot 0.6.x from requirements.txt on $PY, got $version" >&2; exit 1 ;; esac

# SO101_LEG30_PYTEST_ARGS narrows the run (e.g. to the LeRobot-facing files) when CI time is short; default: all.
# shellcheck disable=SC2086
"$VENV/bin/python" -m pytest -q ${SO101_LEG30_PYTEST_ARGS:-}
echo "--- leg lerobot06 done in $(( $(date +%s) - start )) s"
