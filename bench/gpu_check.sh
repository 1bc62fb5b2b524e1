#!/usr/bin/env bash
# The GPU check: builds with CUDA, runs the whole test suite (the CUDA tests run
# instead of skipping), then the GPU examples and benchmarks, and writes what they
# measured under $OUT (or ./gpu-results). Meant for one H200 and well under 8 minutes:
# run it once through the device tool, e.g.
#   run(command="bash bench/gpu_check.sh", timeout_s=600)
set -uo pipefail
cd "$(dirname "$0")/.."

results=${OUT:-$PWD/gpu-results}
mkdir -p "$results"
log() { echo "== $*" | tee -a "$results/summary.txt"; }
started=$(date +%s)

log "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version,pcie.link.gen.current,pcie.link.width.current \
      --format=csv; nproc; free -g | head -2; } 2>&1 | tee "$results/machine.txt"

export PATH="$PATH:/usr/local/cuda/bin"
log "build (CUDA on, H100/H200 arch only to save time)"
bash .ci/install-deps > "$results/install.log" 2>&1
if ! { meson setup build-gpu -Dcuda=enabled -Dgpu_arch='9.0' > "$results/build.log" 2>&1 &&
       meson compile -C build-gpu >> "$results/build.log" 2>&1; }; then
    log "build failed"; tail -30 "$results/build.log"; exit 1
fi

log "tests (CUDA tests run here)"
meson test -C build-gpu --print-errorlogs > "$results/tests.log" 2>&1
tests_status=$?
grep -E '^(Ok|Fail|Skipped):' "$results/tests.log" | tee -a "$results/summary.txt"
grep -h -E '^(ok|not ok) ' build-gpu/meson-logs/testlog.txt | grep -i cuda | tee -a "$results/summary.txt"

log "cpu_adam on this host's cores (fused step vs memory limit)"
timeout 150 ./build-gpu/bench/zo-bench adam --sizes 16M,256M --modes mixed --repeats 3 \
    --json "$results/adam.json" > "$results/adam.txt" 2>&1
tail -8 "$results/adam.txt" | tee -a "$results/summary.txt"

if [[ -x build-gpu/examples/train_mlp_cuda ]]; then
    log "train_mlp on the GPU: offload on, then off"
    timeout 120 ./build-gpu/examples/train_mlp_cuda --steps 200 > "$results/train_mlp_cuda.txt" 2>&1
    tail -3 "$results/train_mlp_cuda.txt" | tee -a "$results/summary.txt"
fi

log "done in $(( $(date +%s) - started )) s; tests exit status $tests_status"
exit $tests_status
