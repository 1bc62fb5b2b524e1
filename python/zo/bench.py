"""python -m zo.bench adam: zo.torch.CPUAdam against torch.optim.AdamW (single-tensor,
foreach and fused where this torch has them) on the same CPU tensors in one run, steps
interleaved round by round so the machine's noise falls on all alike. Measurement only:
nothing here asserts a speed."""
import argparse
import os
import statistics
import time


def parse_count(text):
    """"16M" -> 16 * 2**20 parameters (K, M, G are binary, as zo-bench's sizes)."""
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    return int(float(text[:-1]) * scale[text[-1]]) if text[-1] in scale else int(text)


def optimizers(param, threads):
    """(name, optimizer) for every variant this torch offers for a CPU fp32 parameter."""
    import torch

    from zo.torch import CPUAdam

    hyper = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    yield "zo.torch.CPUAdam", CPUAdam([param], num_threads=threads, **hyper)
    yield "torch AdamW (single-tensor)", torch.optim.AdamW([param], foreach=False, **hyper)
    yield "torch AdamW (foreach)", torch.optim.AdamW([param], foreach=True, **hyper)
    try:
        fused = torch.optim.AdamW([param], fused=True, **hyper)
        fused.step()  # a torch without a CPU fused kernel fails here, not at construction
        yield "torch AdamW (fused)", fused
    except (RuntimeError, ValueError) as error:
        print(f"  (torch AdamW fused: not available on CPU in torch {torch.__version__}: {error})")


def bench_adam(count, steps, threads):
    import torch

    param = torch.nn.Parameter(torch.randn(count))
    param.grad = torch.randn(count) * 1e-3
    variants = list(optimizers(param, threads))
    for _, optimizer in variants:  # first steps create the state: not timed
        optimizer.step()
    times = {name: [] for name, _ in variants}
    for _ in range(steps):
        for name, optimizer in variants:
            started = time.perf_counter()
            optimizer.step()
            times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    fastest = {name: min(values) for name, values in times.items()}
    zo_time = medians["zo.torch.CPUAdam"]
    best_torch = min((t, name) for name, t in medians.items() if name != "zo.torch.CPUAdam")
    # bytes one step must move: fp32 weight, both moments read and written, gradient read
    moved = count * 4 * 7
    print(f"{count / (1 << 20):.0f}M fp32 parameters, {threads} threads, {steps} steps each (median, fastest):")
    for name, seconds in medians.items():
        print(f"  {name:30s} {seconds * 1e3:9.1f} ms/step  {moved / seconds / 1e9:6.1f} GB/s  "
              f"(fastest {fastest[name] * 1e3:9.1f} ms)  zo is {seconds / zo_time:5.2f}x faster")
    print(f"  ratio: best torch ({best_torch[1]}) / zo.torch.CPUAdam = {best_torch[0] / zo_time:.2f}x "
          f"(medians; fastest steps: {fastest[best_torch[1]] / fastest['zo.torch.CPUAdam']:.2f}x)")
    return best_torch[0] / zo_time


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m zo.bench", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["adam"], help="the benchmark to run")
    parser.add_argument("--sizes", default="16M,256M", help="parameter counts, comma-separated (K, M, G)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant (interleaved)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "0") or 0),
                        help="threads for torch and zo (default OMP_NUM_THREADS, else torch's default)")
    args = parser.parse_args(argv)
    import torch

    import zo

    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    kernels = zo.AdamKernels(threads)
    print(f"zo {zo.__version__} ({zo.library_path}), cpu_adam path {kernels.isa}; torch {torch.__version__} "
          f"({torch.backends.cpu.get_cpu_capability()})")
    for size in args.sizes.split(","):
        bench_adam(parse_count(size), args.steps, threads)


if __name__ == "__main__":
    main()
