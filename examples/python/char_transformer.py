"""A small character-level transformer trained with zo.torch.initialize on the text this
repository ships (its docs/ pages): the model is defined here, the optimizer state lives
in the zo engine. Runs on the CPU (zo's host backend) and, with --device auto on a
machine with a GPU, on the GPU. The last tenth of the text is held out: the model never
trains on it, and its loss there after training says how well it learned.

    PYTHONPATH=python ZO_LIBRARY=build/libzo.so python examples/python/char_transformer.py --steps 300

With --compare-moments it trains the same model from the same seed with each of zo's
moments_dtype ("f32", "bf16", "8bit"), everything else identical, and compares their
held-out and training losses with f32's; it exits 0 when 8bit's held-out loss is within
2% of f32's for every seed, 5 otherwise:

    PYTHONPATH=python ZO_LIBRARY=build/libzo.so python examples/python/char_transformer.py \\
        --compare-moments --seeds 1,2,3 --steps 300

(after `pip install .` the two variables are not needed)."""
import argparse
import dataclasses
import glob
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

import zo.torch

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HELD_OUT_FRACTION = 0.1         # the last tenth of the text: never trained on
EVALUATION_BATCH = 64           # held-out sequences per forward
MOMENTS_DTYPES = ("f32", "bf16", "8bit")
ACCEPTED_HELD_OUT_DIFFERENCE = 0.02  # --compare-moments: 8bit's held-out loss within 2% of f32's
EXIT_MOMENTS_DIFFER = 5


def read_corpus():
    """Every docs/*.md page and the README, one string."""
    paths = sorted(glob.glob(os.path.join(REPOSITORY, "docs", "*.md"))) + [os.path.join(REPOSITORY, "README.md")]
    return "\n".join(open(path, encoding="utf-8").read() for path in paths if os.path.exists(path))


@dataclasses.dataclass
class Corpus:
    """The text as character indices, split once: every run trains on `train` and is
    evaluated on the same `held_out` characters."""
    characters: list
    train: torch.Tensor
    held_out: torch.Tensor

    @classmethod
    def load(cls):
        text = read_corpus()
        characters = sorted(set(text))
        index = {character: i for i, character in enumerate(characters)}
        data = torch.tensor([index[c] for c in text], dtype=torch.long)
        split = int(len(data) * (1 - HELD_OUT_FRACTION))
        return cls(characters, data[:split], data[split:])

    def held_out_windows(self, context):
        """The held-out text cut into consecutive windows of context + 1 characters (each
        window's last character starts the next), so every held-out character is predicted
        once: a fixed evaluation set, the same for every run with this context."""
        return self.held_out.unfold(0, context + 1, context)


class Block(torch.nn.Module):
    """Pre-norm transformer block: causal self-attention, then an MLP."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = torch.nn.LayerNorm(dim), torch.nn.LayerNorm(dim)
        self.qkv, self.proj = torch.nn.Linear(dim, 3 * dim), torch.nn.Linear(dim, dim)
        self.up, self.down = torch.nn.Linear(dim, 4 * dim), torch.nn.Linear(4 * dim, dim)

    def forward(self, x):
        batch, length, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(dim, dim=2)
        q, k, v = (t.view(batch, length, self.heads, dim // self.heads).transpose(1, 2) for t in (q, k, v))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, dim))
        return x + self.down(F.gelu(self.up(self.norm2(x))))


class CharTransformer(torch.nn.Module):
    def __init__(self, vocab, context, dim, layers, heads):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.position = torch.nn.Embedding(context, dim)
        self.blocks = torch.nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.norm = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight  # tied, as GPT-2 does
        for embedding in (self.embed, self.position):  # GPT-2's initialization
            torch.nn.init.normal_(embedding.weight, std=0.02)
        self.register_buffer("positions", torch.arange(context), persistent=False)

    def forward(self, tokens):
        x = self.embed(tokens) + self.position(self.positions[: tokens.shape[1]])
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def config(args, moments_dtype="f32"):
    zo_section = {"device": args.device, "moments_dtype": moments_dtype}
    settings = {"train_micro_batch_size_per_gpu": args.batch, "gradient_accumulation_steps": args.accumulation,
                "gradient_clipping": 1.0, "bf16": {"enabled": args.bf16},
                "optimizer": {"type": "AdamW", "params": {"lr": args.lr, "betas": [0.9, 0.95], "weight_decay": 0.1}},
                "scheduler": {"type": "WarmupCosineLR", "params": {"total_num_steps": args.steps,
                                                                   "warmup_num_steps": max(1, args.steps // 10),
                                                                   "warmup_type": "linear"}},
                "zo": zo_section}
    if args.compare_moments and args.device != "host":
        # every run's moments in host RAM, where every moments_dtype runs (the GPU Adam has no 8-bit kernel)
        settings["zero_optimization"] = {"offload_optimizer": {"device": "cpu"}}
    return settings


@torch.no_grad()
def held_out_loss(engine, windows):
    """Mean cross-entropy per character over `windows` (see Corpus.held_out_windows)."""
    engine.eval()
    total = 0.0
    for start in range(0, len(windows), EVALUATION_BATCH):
        window = windows[start: start + EVALUATION_BATCH].to(engine.engine.device)
        logits = engine(window[:, :-1])
        total += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), window[:, 1:].reshape(-1),
                                 reduction="sum").item()
    engine.train()
    return total / windows[:, 1:].numel()


@dataclasses.dataclass
class TrainingRun:
    """What one training run measured; losses[i] is step i + 1's training loss."""
    moments_dtype: str
    seed: int
    parameters: int
    backend: str
    losses: list
    held_out_before: float
    held_out_after: float
    seconds: float

    def mean_loss(self, steps):
        """Mean training loss over the first `steps` steps (negative: the last ones)."""
        chosen = self.losses[:steps] if steps > 0 else self.losses[steps:]
        return sum(chosen) / len(chosen)


def train(args, corpus, seed=0, moments_dtype="f32", print_every=0):
    """Trains a fresh model from `seed` for args.steps optimizer steps and returns what
    it measured. The seed fixes both the initialization and the order of the batches, so
    a run is repeatable: two calls with the same arguments give the same losses."""
    torch.manual_seed(seed)
    model = CharTransformer(len(corpus.characters), args.context, args.dim, args.layers, args.heads)
    if args.device != "host" and torch.cuda.is_available():
        model.cuda()
    engine = zo.torch.initialize(model, config(args, moments_dtype))
    device = engine.engine.device
    parameters = sum(p.numel() for p in engine.params)
    backend = f"zo on its {engine.engine.device_name} backend in {engine.engine.dtype}, {moments_dtype} moments"
    if print_every:
        print(f"{len(corpus.train)} characters of docs/ to train on ({len(corpus.held_out)} held out), vocabulary "
              f"{len(corpus.characters)}; {parameters} parameters trained by {backend}")
    windows = corpus.held_out_windows(args.context)
    held_out_before = held_out_loss(engine, windows)

    batches = torch.Generator().manual_seed(seed)
    losses, started = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        step_loss = 0.0
        for _ in range(args.accumulation):
            starts = torch.randint(0, len(corpus.train) - args.context - 1, (args.batch,), generator=batches)
            window = torch.stack([corpus.train[s: s + args.context + 1] for s in starts.tolist()]).to(device)
            logits = engine(window[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), window[:, 1:].reshape(-1))
            engine.backward(loss)
            engine.step()
            step_loss += loss.item() / args.accumulation
        losses.append(step_loss)
        if print_every and (step % print_every == 0 or step == 1):
            print(f"step {step:5d}  loss {step_loss:.4f}  lr {engine.lr:.2e}  grad norm "
                  f"{engine.last_grad_norm:.3f}  {(time.perf_counter() - started) / step * 1e3:.0f} ms/step")
    seconds = time.perf_counter() - started
    held_out_after = held_out_loss(engine, windows)
    engine.engine.close()  # the model's parameters viewed the engine's memory: the model goes with it
    return TrainingRun(moments_dtype, seed, parameters, backend, losses, held_out_before, held_out_after, seconds)


def relative_difference(value, reference):
    return (value - reference) / reference


def max_curve_difference(run, reference):
    """The largest relative difference between the two runs' training losses at one step."""
    return max(abs(relative_difference(a, b)) for a, b in zip(run.losses, reference.losses))


def compare_moments(args, corpus):
    """Trains every moments_dtype for every seed in args.seeds, prints a table per seed
    and returns the runs as {seed: {moments_dtype: TrainingRun}}."""
    tenth = max(1, args.steps // 10)
    windows = corpus.held_out_windows(args.context)
    print(f"moments_dtype comparison: {args.steps} steps x {args.accumulation} micro-steps of {args.batch} sequences "
          f"of {args.context} characters; held-out loss over the last {HELD_OUT_FRACTION:.0%} of the text "
          f"({len(windows)} sequences, {windows[:, 1:].numel()} characters); seeds {args.seeds}")
    runs = {}
    for seed in args.seeds:
        runs[seed] = {}
        for moments_dtype in MOMENTS_DTYPES:
            run = train(args, corpus, seed, moments_dtype, args.print_every or 0)
            runs[seed][moments_dtype] = run
            print(f"  seed {seed} {moments_dtype:>4}: {run.parameters} parameters, {run.backend}, "
                  f"{run.seconds:.1f} s", flush=True)
        reference = runs[seed]["f32"]
        print(f"seed {seed}: held-out loss {reference.held_out_before:.4f} before training")
        print(f"  moments  held-out loss   vs f32    train loss, last {tenth} steps  max train-curve diff vs f32")
        for moments_dtype, run in runs[seed].items():
            print(f"  {moments_dtype:>7}  {run.held_out_after:13.4f}  "
                  f"{relative_difference(run.held_out_after, reference.held_out_after):+8.3%}  "
                  f"{run.mean_loss(-tenth):27.4f}  {max_curve_difference(run, reference):27.3%}")
    return runs


def moments_summary(runs):
    """Per moments_dtype over the seeds: the mean and the worst (largest in size, with its
    sign) held-out difference vs f32, and the mean and worst max train-curve difference."""
    summary = {}
    for moments_dtype in MOMENTS_DTYPES:
        held_out = [relative_difference(by_dtype[moments_dtype].held_out_after, by_dtype["f32"].held_out_after)
                    for by_dtype in runs.values()]
        curves = [max_curve_difference(by_dtype[moments_dtype], by_dtype["f32"]) for by_dtype in runs.values()]
        summary[moments_dtype] = {"held_out_mean": sum(held_out) / len(held_out),
                                  "held_out_worst": max(held_out, key=abs),
                                  "curve_mean": sum(curves) / len(curves), "curve_worst": max(curves)}
    return summary


def print_summary_and_verdict(runs):
    """Prints the summary over seeds and the verdict; returns the exit status."""
    summary = moments_summary(runs)
    print(f"over {len(runs)} seed(s), vs f32:  held-out loss mean / worst   max train-curve diff mean / worst")
    for moments_dtype, row in summary.items():
        print(f"  {moments_dtype:>7}  {row['held_out_mean']:+24.3%} / {row['held_out_worst']:+8.3%}  "
              f"{row['curve_mean']:24.3%} / {row['curve_worst']:8.3%}")
    worst = summary["8bit"]["held_out_worst"]
    within = abs(worst) <= ACCEPTED_HELD_OUT_DIFFERENCE
    print(f"verdict: 8bit's held-out loss is {'within' if within else 'NOT within'} "
          f"{ACCEPTED_HELD_OUT_DIFFERENCE:.0%} of f32's for every seed (worst {worst:+.3%})")
    return 0 if within else EXIT_MOMENTS_DIFFER


def seed_list(text):
    """--seeds: "1,2,3" -> [1, 2, 3]; each seed once."""
    try:
        seeds = [int(seed) for seed in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r} names a seed twice")
    return seeds


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps")
    parser.add_argument("--accumulation", type=int, default=2, help="micro-steps per optimizer step")
    parser.add_argument("--batch", type=int, default=16, help="sequences per micro-step")
    parser.add_argument("--context", type=int, default=64, help="characters per sequence")
    parser.add_argument("--dim", type=int, default=96)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--bf16", action="store_true", help="bf16 weights and gradients (fp32 masters)")
    parser.add_argument("--device", default="host", choices=["host", "auto", "cuda"], help="zo.device")
    parser.add_argument("--moments-dtype", default="f32", choices=MOMENTS_DTYPES, help="zo.moments_dtype")
    parser.add_argument("--seed", type=int, default=0, help="initialization and batch order")
    parser.add_argument("--print-every", type=int, default=None,
                        help="print every N steps (default 25; with --compare-moments none)")
    parser.add_argument("--compare-moments", action="store_true",
                        help="train once per moments_dtype and compare with f32 (exit 5 when 8bit's held-out "
                             "loss is not within 2%% of f32's)")
    parser.add_argument("--seeds", type=seed_list, default=None,
                        help="--compare-moments: comma-separated seeds (default: --seed)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps {args.steps}: train at least one step")
    if args.seeds is not None and not args.compare_moments:
        parser.error("--seeds goes with --compare-moments (one run takes --seed)")
    if args.compare_moments and args.moments_dtype != "f32":
        parser.error("--compare-moments trains every moments_dtype; leave out --moments-dtype")
    if args.seeds is None:
        args.seeds = [args.seed]
    return args


def main(argv=None):
    """Returns the exit status."""
    args = parse_args(argv)
    corpus = Corpus.load()
    if args.compare_moments:
        return print_summary_and_verdict(compare_moments(args, corpus))
    run = train(args, corpus, args.seed, args.moments_dtype, 25 if args.print_every is None else args.print_every)
    window = max(1, min(10, len(run.losses) // 4))
    print(f"loss fell from {run.mean_loss(window):.4f} to {run.mean_loss(-window):.4f} (mean of the first and last "
          f"{window} steps; uniform guessing is {math.log(len(corpus.characters)):.4f})")
    print(f"held-out loss (last {HELD_OUT_FRACTION:.0%} of the text) {run.held_out_before:.4f} before training, "
          f"{run.held_out_after:.4f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
