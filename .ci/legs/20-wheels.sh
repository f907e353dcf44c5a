#!/usr/bin/env bash
# Leg 20: the package as a user installs it. Build the wheels of so101-sim and of every plugin, install
# them into a clean venv made with this machine's Python, and smoke-test from a temporary directory, with no
# checkout on sys.path:
#   1. env.py's EnvHub install path: a venv holding LeRobot but not so101-sim loads the env from an (offline)
#      Hugging Face cache; env.py installs the local wheel (SO101_SIM_AUTO_INSTALL=1, SO101_SIM_PIP_SPEC=wheel)
#   2. so101-sim rollout (the scene XML is package data)
#   3. lerobot-eval --env.type=so101 --policy.type=so101_scripted (the plugins register from their wheels)
#   4. so101-sim record-hdf5, then the converter CLI with the shipped 'so101' mapping (package data)
# Dependencies come from a wheelhouse ($SO101_WHEELHOUSE, default ~/.cache/so101-sim/wheelhouse), filled by
# `pip download` only when an offline install from it fails: pip's own HTTP cache cannot be relied on (behind
# this project's registry proxy the responses carry no cache headers, and pip stores nothing), so without it
# every run would fetch LeRobot, torch and its CUDA libraries (~3 GB) again. Later runs install offline.
# Usage: bash .ci/legs/20-wheels.sh   (from the repository root; MENAGERIE_ROOT as for the tests)
set -euo pipefail
repo="$(pwd)"  # .ci/run runs every leg from the repository root
test -f "${repo}/pyproject.toml" -a -f "${repo}/env.py" || { echo "run from the repository root" >&2; exit 2; }
export MENAGERIE_ROOT="${MENAGERIE_ROOT:-$(cd "${repo}/.." && pwd)/shared/menagerie}"
python_bin="$(python -c 'import sys; print(sys.executable)')"  # this machine's Python (the one leg 10 uses)
work="$(mktemp -d -t so101-wheels.XXXXXX)"
trap 'rm -rf "${work}"' EXIT
start=$(date +%s)
step() { echo "--- [20-wheels $(( $(date +%s) - start )) s] $*"; }
unset PIP_NO_CACHE_DIR PYTHONPATH
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled PYTHONNOUSERSITE=1

step "copy the sources (tracked and untracked-not-ignored files: no stale build/ or egg-info)"
"${python_bin}" - "${repo}" "${work}/src" <<'EOF'
import os, shutil, subprocess, sys
from pathlib import Path
repo, dest = Path(sys.argv[1]), Path(sys.argv[2])
listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                        check=True, capture_output=True).stdout.decode().split("\0")
for rel in sorted(set(filter(None, listed))):
    src = repo / rel
    if any((repo / parent).is_symlink() for parent in Path(rel).parents if str(parent) != "."):
        continue  # a file seen through a linked folder (e.g. converters/mappings -> so101_sim/assets/mappings)
    if not (src.exists() or src.is_symlink()):
        continue  # tracked but deleted in this working tree
    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        os.symlink(os.readlink(src), dest / rel)
    else:
        shutil.copy2(src, dest / rel)
EOF

step "build the wheels (with this Python's setuptools: no isolated build env to fetch)"
"${python_bin}" -c 'from importlib.metadata import version; v = version("setuptools"); assert int(v.split(".")[0]) >= 77, v'
plugins=("${work}"/src/plugins/*/)  # every plugin distribution (lerobot_policy_*, lerobot_robot_*, lerobot_env_*)
"${python_bin}" -m pip wheel --quiet --no-deps --no-build-isolation -w "${work}/dist" "${work}/src" "${plugins[@]}"
ls -1 "${work}/dist"
wheel="$(ls "${work}"/dist/so101_sim-*.whl)"
"${python_bin}" - "${wheel}" <<'EOF'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = {"so101_sim/assets/so101_tabletop.xml", "so101_sim/assets/mappings/so101.yaml",
        "so101_sim/assets/mappings/franka_tactile.yaml", "isaac_so_arm101/__init__.py"}
missing = need - names
assert not missing, f"{sys.argv[1]} lacks {sorted(missing)}"
print(f"wheel holds the package data: {sorted(need)}")
EOF

wheelhouse="${SO101_WHEELHOUSE:-${XDG_CACHE_HOME:-${HOME}/.cache}/so101-sim/wheelhouse}"
mkdir -p "${wheelhouse}"
offline=(--no-index --find-links "${work}/dist" --find-links "${wheelhouse}")
step "clean venv (${python_bin}), LeRobot and the dependencies of so101-sim[lerobot], without so101-sim itself"
"${python_bin}" -m venv "${work}/venv"
vpy="${work}/venv/bin/python"
if ! "${vpy}" -m pip install --quiet "${offline[@]}" "${wheel}[lerobot]" "${work}"/dist/lerobot_*.whl --dry-run \
     > /dev/null 2>&1; then
  step "the wheelhouse ${wheelhouse} lacks some dependencies: pip download (once)"
  "${python_bin}" -m pip download --quiet -d "${wheelhouse}" "${wheel}[lerobot]" "${work}"/dist/lerobot_*.whl
  for built in "${work}"/dist/*.whl; do rm -f "${wheelhouse}/$(basename "${built}")"; done  # ours: always fresh
  for sdist in "${wheelhouse}"/*.tar.gz "${wheelhouse}"/*.zip; do  # built once here, so later installs need no
    [ -e "${sdist}" ] || continue                                   # build dependencies (or network)
    "${python_bin}" -m pip wheel --quiet --no-deps -w "${wheelhouse}" "${sdist}" && rm -f "${sdist}"
  done
fi
"${vpy}" -m pip install --quiet "${offline[@]}" "${wheel}[lerobot]"
"${vpy}" -m pip uninstall --quiet -y so101-sim
mkdir -p "${work}/run" && cd "${work}/run"  # no checkout below or above: nothing of it is importable

step "1/4 EnvHub: env.py installs so101-sim from the local wheel, offline HF cache"
sha=0123456789abcdef0123456789abcdef01234567
snap="${work}/hf/hub/models--so101-ci--sim-env/snapshots/${sha}"
mkdir -p "${snap}" "${work}/hf/hub/models--so101-ci--sim-env/refs"
cp "${repo}/env.py" "${snap}/env.py"
printf '%s' "${sha}" > "${work}/hf/hub/models--so101-ci--sim-env/refs/main"
HF_HOME="${work}/hf" SO101_SIM_AUTO_INSTALL=1 SO101_SIM_PIP_SPEC="${wheel}" PIP_NO_INDEX=1 \
  PIP_FIND_LINKS="${wheelhouse}" "${vpy}" - "${repo}" <<'EOF'
import importlib.util, sys
repo = sys.argv[1]
assert importlib.util.find_spec("so101_sim") is None, "so101_sim must not be installed before env.py runs"
from lerobot.envs.factory import make_env
envs = make_env("so101-ci/sim-env", n_envs=1, trust_remote_code=True)
import so101_sim
assert not so101_sim.__file__.startswith(repo), so101_sim.__file__
assert not [p for p in sys.path if p.startswith(repo)], sys.path
vec = next(iter(next(iter(envs.values())).values()))
obs, _ = vec.reset(seed=0)
vec.step(vec.action_space.sample())
vec.close()
print(f"EnvHub env built from {so101_sim.__file__}; suites {list(envs)}")
EOF

step "install the plugin wheels"
"${vpy}" -m pip install --quiet "${offline[@]}" "${work}"/dist/lerobot_*.whl
"${vpy}" -m pip check

step "2/4 so101-sim rollout"
"${work}/venv/bin/so101-sim" rollout --task Lift-v0 --episodes 1 --video "${work}/run/lift.mp4" --video-episodes 1 \
  --image-size 64 | tee "${work}/rollout.txt"
tail -1 "${work}/rollout.txt" | "${vpy}" -c 'import json, sys; r = json.loads(sys.stdin.read()); assert r["success_rate"] == 1.0, r'
test -s "${work}/run/lift.mp4"

step "3/4 lerobot-eval --env.type=so101 --policy.type=so101_scripted"
"${work}/venv/bin/lerobot-eval" --env.type=so101 --env.task=Reach-v0 --policy.type=so101_scripted \
  --eval.n_episodes=2 --eval.batch_size=2 --env.cameras='[camera1]' --env.image_size=48 \
  --output_dir="${work}/run/eval" > "${work}/eval.log" 2>&1 || { tail -40 "${work}/eval.log"; exit 1; }
"${vpy}" -c 'import json, sys; i = json.load(open(sys.argv[1]))["overall"]; assert i["pc_success"] == 100.0, i; print("pc_success", i["pc_success"])' \
  "${work}/run/eval/eval_info.json"

step "4/4 record-hdf5 -> converter CLI with the shipped 'so101' mapping"
"${work}/venv/bin/so101-sim" record-hdf5 --task Reach-v0 --episodes 1 --image-size 64 --output "${work}/run/reach.hdf5"
"${work}/venv/bin/so101-hdf5-to-lerobot" --input "${work}/run/reach.hdf5" --output-dir "${work}/run/data" \
  --repo-id local/reach --mapping so101 --vcodec h264 --no-progress
"${vpy}" -c 'import json, sys; i = json.load(open(sys.argv[1])); assert i["total_episodes"] == 1 and i["robot_type"] == "so101_follower", i' \
  "${work}/run/data/local/reach/meta/info.json"
test ! -e "${work}/run/MUJOCO_LOG.TXT"

step "done"
