#!/usr/bin/env bash
# Builds .rlinf_stage/ for benchmarks/rlinf_h200.sh: what an offline Python 3.12 GPU machine (torch preinstalled,
# no registry) needs to run `so101-sim rlinf train` with the state-only config, in under 64 MiB:
#   - Ray 2.60 without its jars, dashboard build and libraries (rllib, serve, tune, train, data, air, cpp, llm),
#     as ray_slim.tar.xz (~28 MB; the wheel is 79 MB). Ray runs in its minimal mode (no dashboard); RLinf only
#     queries the dashboard's state API inside try/except.
#   - cp312 wheels: rlinf, hydra-core, omegaconf, antlr4 4.9.3 (sdist only on the registry: built here by pip),
#     jsonschema and its deps, gymnasium, mujoco + mujoco-core (MUJOCO_GL=disable: no GL packages), the
#     mujoco-menagerie package, and transformers 4.57.6 / tokenizers 0.22.2 / huggingface_hub 0.35.3 (rlinf imports
#     transformers names that 5.x removed).
#   - Menagerie's SO-101 (MENAGERIE_ROOT) as a tar.xz, and this machine's decimated render-mesh cache
#     (~/.cache/so101_sim/meshes: meshoptimizer has no cp312 wheel; run any MuJoCo scene once here first).
# Usage (repository root; MENAGERIE_ROOT as for the tests): bash benchmarks/rlinf_stage.sh
# Add /.rlinf_stage/ to .git/info/exclude so that it travels only as a carried path.
set -euo pipefail
S=.rlinf_stage
MEN=${MENAGERIE_ROOT:-../shared/menagerie}
mkdir -p "$S/meshes" /tmp/rlinf_stage_dl
get() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$1" "${@:2}"
}
get /tmp/rlinf_stage_dl ray==2.60.0
get "$S" rlinf==0.3.0 hydra-core==1.3.2 omegaconf==2.3.0 jsonschema referencing rpds-py jsonschema-specifications \
  gymnasium==1.4.0 farama-notifications mujoco==4.0.0 mujoco-core==4.0.0 mujoco-menagerie \
  transformers==4.57.6 tokenizers==0.22.2 huggingface_hub==0.35.3
python3 -m pip wheel -q --no-deps -w "$S" antlr4-python3-runtime==4.9.3
rm -rf /tmp/rlinf_stage_ray && mkdir /tmp/rlinf_stage_ray
(cd /tmp/rlinf_stage_ray && unzip -q /tmp/rlinf_stage_dl/ray-2.60.0-*.whl \
  && rm -rf ray/jars ray/dashboard/client/build ray/rllib ray/serve ray/tune ray/train ray/data ray/air ray/cpp \
     ray/llm ray/workflow \
  && tar -cf - ray ray-2.60.0.dist-info | xz -T0 -6 > /tmp/rlinf_stage_ray.tar.xz)
mv /tmp/rlinf_stage_ray.tar.xz "$S/ray_slim.tar.xz"
tar -C "$MEN" -cf - robotstudio_so101 | xz -T0 -6 > "$S/menagerie_so101.tar.xz"
cp "${SO101_SIM_CACHE:-$HOME/.cache/so101_sim}"/meshes/*.npz "$S/meshes/"
du -sh "$S"
