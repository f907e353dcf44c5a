#!/usr/bin/env bash
# RLinf end-to-end run of the SO-101 sim on one GPU machine (the H200 device of this workplace), plus a baseline
# measured in the same run: raw stepping of the same MuJoCo vector env in one process (the ceiling of any
# collector on this machine). Prints env-steps/s, the per-epoch rollout/update split and success per epoch.
#
# The machine has no registry: RLinf and its runtime dependencies travel in .rlinf_stage/ (benchmarks/rlinf_stage.sh
# builds it: cp312 wheels, a slimmed
# Ray as ray_slim.tar.xz since Ray's 79 MB wheel exceeds one 64 MiB carry, Menagerie's SO-101 as a tar.xz):
#   run(command="bash benchmarks/rlinf_h200.sh", carry=[".rlinf_stage"], timeout_s=300)
# State-only: MUJOCO_GL=disable, so no OpenGL packages travel (add pyopengl + glfw wheels for camera configs).
# Options (env vars): EPOCHS (20), NUM_ENVS (256), CONFIG (so101_ppo_mlp_state), EXTRA (Hydra overrides),
# TRAIN_TIMEOUT (220 s).
set -uo pipefail
S=.rlinf_stage
OUT=${OUT:-/tmp/rlinf_out}
mkdir -p "$OUT" /tmp/site /tmp/men
t0=$(date +%s)
tar -xJf "$S/ray_slim.tar.xz" -C /tmp/site || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$S"/*.whl || exit 1
tar -xJf "$S/menagerie_so101.tar.xz" -C /tmp/men || exit 1
export PYTHONPATH=/tmp/site:$PWD MENAGERIE_ROOT=/tmp/men PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 MUJOCO_GL=disable
export SO101_SIM_CACHE=$PWD/$S  # decimated render meshes (meshes/*.npz): meshoptimizer has no cp312 wheel
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 RAY_USAGE_STATS_ENABLED=0
echo "staged in $(( $(date +%s) - t0 )) s"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader

python3 - <<'EOF' 2>&1 | tee "$OUT/baseline.txt"
import os, time
from so101_sim.env_lerobot import make_vector_env
n = int(os.environ.get("NUM_ENVS", 256))
e = make_vector_env("Reach-v0", n, cameras=(), units="radians", episode_length=60)
o, _ = e.reset(seed=list(range(n)))
t = time.perf_counter()
for _ in range(60):
    o, *_ = e.step(o["agent_pos"].copy())
print(f"baseline raw MuJoCo vector-env stepping, {n} envs, one process: {n * 60 / (time.perf_counter() - t):.0f} env-steps/s")
EOF

timeout "${TRAIN_TIMEOUT:-220}" python3 -m so101_sim.cli rlinf train --config_name "${CONFIG:-so101_ppo_mlp_state}" \
  --num_envs "${NUM_ENVS:-256}" --max_epochs "${EPOCHS:-20}" --run_name h200 ${EXTRA:-} 2>&1 | tee "$OUT/train.log" | grep -v "^\s*$" | tail -60
rc=${PIPESTATUS[0]}
run=$(ls -d logs/rlinf/*-h200 2>/dev/null | tail -1)
echo "train rc=$rc run=$run"
[ -n "$run" ] && cp "$run"/summary.json "$run"/scalars.csv "$OUT"/ 2>/dev/null
ev=$(find "$run" -name "events.out.tfevents*" 2>/dev/null | head -1)
[ -n "$ev" ] && cp "$ev" "$OUT/events.tfevents"
python3 - "$run" <<'EOF' 2>&1 | tee "$OUT/report.txt"
import sys
from so101_sim.rlinf.launch import read_scalars
s = read_scalars(sys.argv[1])
keys = sorted(k for k in s if any(w in k for w in ("success", "time/", "return", "episode_len")))
for k in keys:
    vals = [round(v, 4) for _, v in sorted(s[k])]
    print(k, vals)
EOF
exit $rc
