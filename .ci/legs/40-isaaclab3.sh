#!/usr/bin/env bash
# Leg 40: the real Isaac Lab 3.0 backend, kit-less (Newton physics with the MuJoCo Warp solver, Warp ray-traced
# cameras) on warp's CPU device, in a Python of its own: isaaclab 3.0 pins torch 2.11 / transformers 5.10, which
# LeRobot 0.4.4's Python cannot hold. Nothing here is skipped: an install that fails fails the leg.
#
#   /opt/venv-isaac     Python 3.13 (Debian's; isaaclab declares < 3.13 and runs on 3.13, --ignore-requires-python)
#   /opt/venv-usdconv   mujoco-usd-converter (needs mujoco 3.16, Newton pins 3.12): Menagerie's SO-101 -> USD, once
#   .ci-cache/isaaclab-2.3   the isaaclab 2.3 wheel's source, fetched here (an install step) for the 2.3 name check
#
# Then tests/isaaclab3 runs in /opt/venv-isaac: the Isaac Lab 2.3 and 3.0 name checks (the 3.0 one reads the
# installed wheel's source) and the kit-less backend itself (build, step, render, the expert's first phases, the
# lerobot-eval loop, the cross-backend replay). Measured on the 2-core machine (shared, so upper bounds): install
# 2.6 min (venv) + 1 min (converter, builds tinyobjloader) from an empty pip cache; tests ~6 min on the first run
# (Warp compiles its kernels, cached in ~/.cache/warp), ~1.5-2 min after.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
PY313=${PY313:-/usr/bin/python3.13}
VENV=${SO101_ISAAC_VENV:-/opt/venv-isaac}
CONV=${SO101_USDCONV_VENV:-/opt/venv-usdconv}

bootstrap_venv() {  # Debian's python3.13 has no ensurepip: venv without pip, then pip from its own wheel
  local dir=$1
  [ -x "$dir/bin/pip" ] && return 0
  "$PY313" -m venv --without-pip "$dir"
  local tmp; tmp=$(mktemp -d)
  "$PY313" -m pip download -q --no-deps -d "$tmp" pip 2>/dev/null || python3 -m pip download -q --no-deps -d "$tmp" pip
  local whl; whl=$(ls "$tmp"/pip-*.whl)
  "$dir/bin/python" "$whl/pip" install -q "$whl"
  rm -rf "$tmp"
}

bootstrap_venv "$VENV"
if ! "$VENV/bin/python" -c "import isaaclab_newton, newton, mujoco_warp, pxr, mujoco_menagerie, meshoptimizer, pytest" 2>/dev/null; then
  "$VENV/bin/pip" install -q torch==2.11.0 numpy "mujoco~=3.12.0" "mujoco-warp~=3.12.0" newton==1.6.1 \
    warp-lang==1.17.0 usd-exchange==3.0.1 newton-usd-schemas gymnasium trimesh prettytable hydra-core psutil \
    protobuf einops matplotlib pillow lazy_loader Jinja2 filelock h5py packaging rich tqdm scipy toml \
    mujoco-menagerie "meshoptimizer==0.2.30a0" "imageio>=2.34" pyyaml pyzmq msgpack "pytest>=8" "pytest-timeout>=2.3"
  "$VENV/bin/pip" install -q --no-deps --ignore-requires-python isaaclab==3.0.0
fi
bootstrap_venv "$CONV"
if [ ! -x "$CONV/bin/mujoco_usd_converter" ]; then
  "$CONV/bin/pip" install -q --ignore-requires-python mujoco-usd-converter==0.8.0
fi
# the isaaclab 2.3 source for the 2.3 name check (read with ast; 2.3 itself needs Isaac Sim to import)
SRC23=.ci-cache/isaaclab-2.3
if [ ! -d "$SRC23/isaaclab/source/isaaclab" ]; then
  mkdir -p .ci-cache/wheels "$SRC23"
  "$VENV/bin/pip" download -q --no-deps --only-binary=:all: --python-version 3.11 "isaaclab==2.3.*" -d .ci-cache/wheels
  "$VENV/bin/python" - "$SRC23" .ci-cache/wheels <<'EOF'
import sys, zipfile, pathlib
dest, wheels = pathlib.Path(sys.argv[1]), sorted(pathlib.Path(sys.argv[2]).glob("isaaclab-2.3*.whl"))
with zipfile.ZipFile(wheels[-1]) as zf:
    zf.extractall(dest, [m for m in zf.namelist() if m.startswith("isaaclab/source/") and m.endswith(".py")])
EOF
fi
echo "Isaac Lab 3.0 leg: install done in $(( $(date +%s) - start )) s"
export SO101_REQUIRE_ISAACLAB3=1 SO101_USD_CONVERTER="$CONV/bin/mujoco_usd_converter"
export ISAACLAB23_SOURCE="$PWD/$SRC23/isaaclab/source" SO101_TEST_LINE=isaac30
export MENAGERIE_ROOT="${MENAGERIE_ROOT:-$(cd .. && pwd)/shared/menagerie}"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/isaaclab3
echo "Isaac Lab 3.0 leg: done in $(( $(date +%s) - start )) s"
