#!/usr/bin/env bash
# The GPU check: builds with CUDA, runs the whole test suite (the CUDA tests run
# instead of skipping: test_device_cuda, test_adam_cuda), then the GPU examples and
# benchmarks (zo-bench train, small and large model, and at ZeRO stage 3), and writes
# what they measured (logs, JSON, summary.txt) under $OUT (or ./gpu-results). Meant
# for one H200 and well under 8 minutes:
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
timeout 60 ./build-gpu/bench/zo-bench adam --sizes 256M --modes mixed --repeats 3 \
    --json "$results/adam.json" > "$results/adam.txt" 2>&1
tail -8 "$results/adam.txt" | tee -a "$results/summary.txt"

if [[ -x build-gpu/examples/train_mlp_cuda ]]; then
    log "train_mlp_cuda (the example: the loss must fall), offload on"
    timeout 45 ./build-gpu/examples/train_mlp_cuda --steps 200 > "$results/train_mlp_cuda.txt" 2>&1
    echo "exit status $?" >> "$results/train_mlp_cuda.txt"
    tail -4 "$results/train_mlp_cuda.txt" | tee -a "$results/summary.txt"
    log "train_mlp_cuda, offload off (Adam on the GPU: engine_device_update.c)"
    cat > "$results/no_offload.json" <<'JSON'
{"gradient_clipping": 1.0,
 "fp16": {"enabled": true, "loss_scale": 0, "initial_scale_power": 16},
 "optimizer": {"type": "AdamW", "params": {"lr": 1e-3, "betas": [0.9, 0.999], "weight_decay": 0.01}},
 "zero_optimization": {"stage": 2, "reduce_bucket_size": 65536, "offload_optimizer": {"device": "none"}},
 "zo": {"device": "cuda"}}
JSON
    timeout 45 ./build-gpu/examples/train_mlp_cuda --steps 200 --config "$results/no_offload.json" \
        > "$results/train_mlp_cuda_no_offload.txt" 2>&1
    echo "exit status $?" >> "$results/train_mlp_cuda_no_offload.txt"
    tail -4 "$results/train_mlp_cuda_no_offload.txt" | tee -a "$results/summary.txt"
    # ZeRO stage 3 on the GPU: the weights in host memory, fetched layer by layer (two
    # of the 8 weight matrices live, the biases persistent; no budget on a GPU)
    log "train_mlp_cuda --stage3 (weights in host memory: the loss must fall)"
    timeout 45 ./build-gpu/examples/train_mlp_cuda --steps 200 --stage3 \
        > "$results/train_mlp_cuda_stage3.txt" 2>&1
    echo "exit status $?" >> "$results/train_mlp_cuda_stage3.txt"
    tail -6 "$results/train_mlp_cuda_stage3.txt" | tee -a "$results/summary.txt"
fi

# zo-bench train: the same MLP loop through the engine, offload on and off ("none":
# Adam on the GPU, engine_device_update.c), GPU / host-only speed, PCIe vs the pinned
# peak, peak GPU memory each way.
# small: 64M parameters (width 2048), also trained on the host for the ratio;
# large: 1G parameters (width 8192), GPU only (a host-only step of it takes minutes),
# with --find-max for the largest model each way on this machine.
log "zo-bench train, small model (64M) on the GPU and on the host"
timeout 120 ./build-gpu/bench/zo-bench train --params 64M --batch 256 --steps 10 --host-steps 3 \
    --device cuda --config bench/configs/train.json --json "$results/train_small.json" \
    > "$results/train_small.txt" 2>&1
cat "$results/train_small.txt" | tee -a "$results/summary.txt"
log "zo-bench train, large model (1G) on the GPU, --find-max"
timeout 120 ./build-gpu/bench/zo-bench train --params 1G --batch 256 --steps 5 --host-steps 0 \
    --device cuda --find-max --config bench/configs/train.json --json "$results/train_large.json" \
    > "$results/train_large.txt" 2>&1
cat "$results/train_large.txt" | tee -a "$results/summary.txt"
# stage 3 (bench/configs/train_stage3.json: a quarter of the small model's weights
# live on the GPU at once, the rest in host memory), GPU only
log "zo-bench train, small model (64M) at ZeRO stage 3 on the GPU"
timeout 60 ./build-gpu/bench/zo-bench train --params 64M --batch 256 --steps 5 --host-steps 0 \
    --device cuda --config bench/configs/train_stage3.json --json "$results/train_stage3.json" \
    > "$results/train_stage3.txt" 2>&1
cat "$results/train_stage3.txt" | tee -a "$results/summary.txt"

# Python: the pytest suite ran above with the tests (test_cuda_backend runs on a GPU);
# the example's transformer trained by zo.torch.initialize on the CUDA backend
log "Python: examples/python/char_transformer.py on the GPU (bf16)"
ZO_LIBRARY=build-gpu/libzo.so PYTHONPATH=python timeout 120 python3 examples/python/char_transformer.py \
    --device cuda --bf16 --steps 100 > "$results/python_char_transformer.txt" 2>&1
tail -2 "$results/python_char_transformer.txt" | tee -a "$results/summary.txt"

log "done in $(( $(date +%s) - started )) s; tests exit status $tests_status"
exit $tests_status
