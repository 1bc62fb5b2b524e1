"""A small character-level transformer trained with zo.torch.initialize on the text this
repository ships (its docs/ pages): the model is defined here, the optimizer state lives
in the zo engine. Runs on the CPU (zo's host backend) and, with --device auto on a
machine with a GPU, on the GPU.

    PYTHONPATH=python ZO_LIBRARY=build/libzo.so python examples/python/char_transformer.py --steps 300

(after `pip install .` the two variables are not needed)."""
import argparse
import glob
import math
import os
import time

import torch
import torch.nn.functional as F

import zo.torch

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read_corpus():
    """Every docs/*.md page and the README, one string."""
    paths = sorted(glob.glob(os.path.join(REPOSITORY, "docs", "*.md"))) + [os.path.join(REPOSITORY, "README.md")]
    return "\n".join(open(path, encoding="utf-8").read() for path in paths if os.path.exists(path))


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


def config(args):
    return {"train_micro_batch_size_per_gpu": args.batch, "gradient_accumulation_steps": args.accumulation,
            "gradient_clipping": 1.0, "bf16": {"enabled": args.bf16},
            "optimizer": {"type": "AdamW", "params": {"lr": args.lr, "betas": [0.9, 0.95], "weight_decay": 0.1}},
            "scheduler": {"type": "WarmupCosineLR", "params": {"total_num_steps": args.steps,
                                                               "warmup_num_steps": max(1, args.steps // 10),
                                                               "warmup_type": "linear"}},
            "zo": {"device": args.device}}


def main(argv=None):
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
    parser.add_argument("--print-every", type=int, default=25)
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    text = read_corpus()
    characters = sorted(set(text))
    data = torch.tensor([characters.index(c) for c in text], dtype=torch.long)
    model = CharTransformer(len(characters), args.context, args.dim, args.layers, args.heads)
    if args.device != "host" and torch.cuda.is_available():
        model.cuda()
    engine = zo.torch.initialize(model, config(args))
    device = engine.engine.device
    print(f"{len(text)} characters of docs/, vocabulary {len(characters)}; "
          f"{sum(p.numel() for p in engine.params)} parameters trained by zo on its {engine.engine.device_name} "
          f"backend in {engine.engine.dtype}")

    generator = torch.Generator().manual_seed(1)
    losses, started = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        step_loss = 0.0
        for _ in range(args.accumulation):
            starts = torch.randint(0, len(data) - args.context - 1, (args.batch,), generator=generator)
            window = torch.stack([data[s: s + args.context + 1] for s in starts.tolist()]).to(device)
            logits = engine(window[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), window[:, 1:].reshape(-1))
            engine.backward(loss)
            engine.step()
            step_loss += loss.item() / args.accumulation
        losses.append(step_loss)
        if step % args.print_every == 0 or step == 1:
            print(f"step {step:5d}  loss {step_loss:.4f}  lr {engine.lr:.2e}  grad norm "
                  f"{engine.last_grad_norm:.3f}  {(time.perf_counter() - started) / step * 1e3:.0f} ms/step")
    window = max(1, min(10, len(losses) // 4))
    first, last = sum(losses[:window]) / window, sum(losses[-window:]) / window
    print(f"loss fell from {first:.4f} to {last:.4f} (mean of the first and last {window} steps; "
          f"uniform guessing is {math.log(len(characters)):.4f})")
    return first, last


if __name__ == "__main__":
    main()
