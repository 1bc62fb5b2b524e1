#!/usr/bin/env python3
"""Checks train_mlp_host's held-out evaluation (examples/mlp_host_loop.c).

  check_compare_moments.py compare PROGRAM ARGS...
      runs PROGRAM --compare-moments ARGS and checks its report: for every seed a table
      with the held-out loss of f32, bf16 and 8bit moments, all finite; the f32 run's
      below the untrained model's (the model learned); each seed's verdict agrees with
      its 8bit row; with --eval-every the held-out loss over the last tenth of the steps
      too, finite; with several seeds the summary lines; the exit status 0 or 5 as the
      verdicts say. Whether 8bit lands within 2% is not asserted: on a short run that
      is noise, and 5 is a valid answer.
  check_compare_moments.py same-training PROGRAM ARGS...
      runs PROGRAM ARGS twice, logging every step, without and with --eval-every 1, and
      requires the same training log line for line: evaluating must not change the
      training.
Exits 0 when the checks pass, 1 with the reason when not."""
import math
import re
import subprocess
import sys

FLOAT = r"([-+0-9.eEinfa]+)"


def fail(reason, output=""):
    print(output)
    print("FAILED: " + reason)
    sys.exit(1)


def run(command):
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return done.returncode, done.stdout


def check_compare(program, args):
    status, output = run([program, "--compare-moments", "--quiet"] + args)
    if status not in (0, 5):
        fail(f"exit status {status}, expected 0 (8bit within 2%) or 5 (not)", output)
    headers = re.findall(r"^seed (\d+), \d+ steps: held-out set of (\d+) samples .*"
                         r"the untrained model's loss on it " + FLOAT + "$", output, re.M)
    if not headers:
        fail("no per-seed held-out header", output)
    every = "--eval-every" in args
    any_failed = False
    for seed, samples, untrained in headers:
        untrained = float(untrained)
        block = output.split(f"seed {seed}, ", 1)[1]
        table = re.search(r"^moments  held-out loss .*$", block, re.M)
        if not table:
            fail(f"seed {seed}: no table header", output)
        if every != ("| held-out last tenth" in table.group(0)):
            fail(f"seed {seed}: the held-out last tenth is {'missing' if every else 'there'}",
                 output)
        held_out = {}
        for dtype in ("f32", "bf16", "8bit"):
            row = re.search(rf"^{dtype} +{FLOAT} +(?:[-+][0-9.]+%)? *\| +{FLOAT}", block, re.M)
            if not row:
                fail(f"seed {seed}: no {dtype} row", output)
            held_out[dtype] = float(row.group(1))
            for value in (float(row.group(1)), float(row.group(2))):
                if not math.isfinite(value) or value <= 0:
                    fail(f"seed {seed}: {dtype}'s row has {value}, not a loss", output)
        if int(samples) == 0 or not math.isfinite(untrained):
            fail(f"seed {seed}: held-out set of {samples} samples, untrained loss {untrained}", output)
        if not held_out["f32"] < untrained:
            fail(f"seed {seed}: the f32 run's held-out loss {held_out['f32']} is not below the "
                 f"untrained model's {untrained}: nothing learned", output)
        verdict = re.search(rf"^seed {seed}: 8bit moments end (within|MORE than) 2% of f32 on the "
                            r"held-out set \(" + FLOAT + r"%\)$", output, re.M)
        if not verdict:
            fail(f"seed {seed}: no held-out verdict line", output)
        within = held_out["8bit"] <= 1.02 * held_out["f32"]
        if within != (verdict.group(1) == "within"):
            fail(f"seed {seed}: the verdict says {verdict.group(1)} but 8bit's held-out loss is "
                 f"{held_out['8bit']} against f32's {held_out['f32']}", output)
        any_failed |= not within
    if any_failed != (status == 5):
        fail(f"exit status {status} but a seed's verdict {'failed' if any_failed else 'passed'}",
             output)
    if len(headers) > 1:
        summary = re.search(rf"^over {len(headers)} seeds, held-out loss against f32: bf16 mean "
                            r"[-+][0-9.]+%, worst [-+][0-9.]+% \(seed \d+\); 8bit mean "
                            r"[-+][0-9.]+%, worst [-+][0-9.]+% \(seed \d+\)$", output, re.M)
        if not summary:
            fail(f"no summary line over the {len(headers)} seeds", output)
        if every and not re.search(rf"^over {len(headers)} seeds, held-out last tenth against f32: "
                                   r"bf16 mean .*; 8bit mean ", output, re.M):
            fail(f"no summary line of the held-out last tenth", output)
    print(output)
    print(f"held-out report checked: {len(headers)} seed(s), exit status {status}")


def check_same_training(program, args):
    logged = ["--print-every", "1"] + args
    outputs = []
    for extra in ([], ["--eval-every", "1"]):
        status, output = run([program] + logged + extra)
        if status not in (0, 2):
            fail(f"{' '.join(extra) or 'plain run'}: exit status {status}", output)
        outputs.append(output)
    steps = [[line for line in output.splitlines() if line.startswith("step ")] for output in outputs]
    if not steps[0] or len(steps[0]) != len(steps[1]):
        fail(f"{len(steps[0])} and {len(steps[1])} step lines", "\n".join(outputs))
    for plain, evaluated in zip(*steps):
        if plain != evaluated:
            fail(f"the training changed with --eval-every 1:\n  {plain}\n  {evaluated}")
    points = [line for line in outputs[1].splitlines() if "held-out loss" in line and "after" in line]
    if len(points) != len(steps[1]):
        fail(f"{len(points)} held-out points for {len(steps[1])} steps", outputs[1])
    print(f"{len(steps[0])} steps logged the same with and without a held-out evaluation after each")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("compare", "same-training"):
        print(__doc__)
        sys.exit(1)
    check = check_compare if sys.argv[1] == "compare" else check_same_training
    check(sys.argv[2], sys.argv[3:])


if __name__ == "__main__":
    main()
