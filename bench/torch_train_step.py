"""The same training step as `baichuan2 bench train`, in PyTorch (the reference).

A Baichuan-2-architecture model (RMSNorm, W_pack, RoPE, causal attention,
SwiGLU, NormHead, CE + max-z), AdamW(0.9, 0.95, wd 0.1), clip 0.5.
argv: JSON {layers, hidden, heads, ffn, vocab, batch, seq, steps, dtype, threads}.
Prints one JSON object with the median tokens/s.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        var = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + 1e-6)).to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Layer(nn.Module):
    def __init__(self, c, h, f):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = RMSNorm(c), RMSNorm(c)
        self.W_pack = nn.Linear(c, 3 * c, bias=False)
        self.o_proj = nn.Linear(c, c, bias=False)
        self.gate, self.up = nn.Linear(c, f, bias=False), nn.Linear(c, f, bias=False)
        self.down = nn.Linear(f, c, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, c = x.shape
        d = c // self.h
        q, k, v = self.W_pack(self.ln1(x)).view(b, t, 3, self.h, d).permute(2, 0, 3, 1, 4)
        q = (q.float() * cos + rotate_half(q.float()) * sin).to(q.dtype)
        k = (k.float() * cos + rotate_half(k.float()) * sin).to(k.dtype)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d) + mask
        y = att.softmax(-1) @ v
        x = x + self.o_proj(y.transpose(1, 2).reshape(b, t, c))
        n = self.ln2(x)
        return x + self.down(F.silu(self.gate(n)) * self.up(n))


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["hidden"]
        self.embed = nn.Embedding(cfg["vocab"], c)
        self.layers = nn.ModuleList(Layer(c, cfg["heads"], cfg["ffn"]) for _ in range(cfg["layers"]))
        self.norm = RMSNorm(c)
        self.head = nn.Parameter(torch.randn(cfg["vocab"], c) * 0.02)
        d = c // cfg["heads"]
        inv = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
        fr = torch.outer(torch.arange(cfg["seq"]).float(), inv)
        emb = torch.cat((fr, fr), -1)
        self.cos, self.sin = emb.cos(), emb.sin()
        self.mask = torch.full((cfg["seq"], cfg["seq"]), float("-inf")).triu(1)

    def forward(self, ids, targets):
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin, self.mask)
        logits = self.norm(x) @ F.normalize(self.head, dim=1).t()
        logits = logits.float().view(-1, logits.shape[-1])
        return F.cross_entropy(logits, targets.view(-1)) + 2e-4 * logits.max(-1).values.pow(2).mean()


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    model = Model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    ids = torch.randint(0, cfg["vocab"], (cfg["batch"], cfg["seq"]))
    tgt = torch.randint(0, cfg["vocab"], (cfg["batch"], cfg["seq"]))
    times = []
    for step in range(cfg["steps"] + 2):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if cfg["dtype"] == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(ids, tgt)
        else:
            loss = model(ids, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        if step >= 2:
            times.append(time.perf_counter() - t)
    times.sort()
    print(json.dumps({"tokens_per_s": cfg["batch"] * cfg["seq"] / times[len(times) // 2], "torch": torch.__version__}))


if __name__ == "__main__":
    main()
