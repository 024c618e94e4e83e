"""Write a random Baichuan 2 checkpoint as PyTorch itself does: sharded
`pytorch_model-0000i-of-0000N.bin` files (torch.save of a state dict per shard)
and `pytorch_model.bin.index.json`, the layout of the released 13B checkpoints.

One shard's tensors are in memory at a time (a 13B shard is ~9.3 GB).
Used by bench/checkpoint-io.ts (13B / 7B shapes) and by test/io/ (small shapes,
with --extras and --hashes).

  python3 bench/torch_bin_checkpoint.py --out DIR --preset 13b --shards 3
  python3 bench/torch_bin_checkpoint.py --out DIR --layers 4 --hidden 256 --ffn 688 \
      --vocab 32000 --heads 8 --position alibi --shards 3 --extras --hashes

--extras adds tensors a state dict can hold that a plain save_pretrained
does not produce: a transposed (strided) view and a slice at a storage offset,
both sharing storage with another tensor, and f16 / f32 tensors. --hashes
writes hashes.json: sha256 of every tensor's contiguous little-endian bytes,
computed by torch (the oracle the TypeScript reader is checked against).
"""
import argparse
import hashlib
import json
import os

import torch

PRESETS = {
    # Baichuan2-13B: 40 layers, hidden 5120, 40 heads, ffn 13696, vocab 125696 (ALiBi)
    '13b': dict(layers=40, hidden=5120, heads=40, ffn=13696, vocab=125696, position='alibi', max_len=4096),
    # Baichuan2-7B: 32 layers, hidden 4096, 32 heads, ffn 11008, vocab 125696 (RoPE)
    # a smoke-test size for the benchmark's own plumbing
    'small': dict(layers=2, hidden=256, heads=8, ffn=704, vocab=4096, position='alibi', max_len=4096),
    '7b': dict(layers=32, hidden=4096, heads=32, ffn=11008, vocab=125696, position='rope', max_len=4096),
}


def names_and_shapes(c):
    C, F, V = c['hidden'], c['ffn'], c['vocab']
    out = [('model.embed_tokens.weight', (V, C))]
    for i in range(c['layers']):
        p = f'model.layers.{i}.'
        out += [
            (p + 'self_attn.W_pack.weight', (3 * C, C)),
            (p + 'self_attn.o_proj.weight', (C, C)),
            (p + 'mlp.gate_proj.weight', (F, C)),
            (p + 'mlp.down_proj.weight', (C, F)),
            (p + 'mlp.up_proj.weight', (F, C)),
            (p + 'input_layernorm.weight', (C,)),
            (p + 'post_attention_layernorm.weight', (C,)),
        ]
    out += [('model.norm.weight', (C,)), ('lm_head.weight', (V, C))]
    return out


class Pool:
    """Random N(0, 0.02) bf16 values drawn once; each tensor is a slice at a random offset.

    Drawing 13.9B normals costs ~30 min on two shared cores; copying slices of a 128M-value
    pool runs at memory speed. The weights are still random (no two tensors alike), which is
    all the I/O and quantisation benchmarks need.
    """

    def __init__(self, n):
        self.v = torch.empty(n, dtype=torch.bfloat16).normal_(0, 0.02)

    def take(self, shape):
        n, P = torch.Size(shape).numel(), self.v.numel()
        off = int(torch.randint(0, P, (1,)))
        parts, left = [], n
        while left > 0:
            k = min(left, P - off)
            parts.append(self.v[off:off + k])
            left -= k
            off = 0
        return (parts[0].clone() if len(parts) == 1 else torch.cat(parts)).view(shape)


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--preset', choices=sorted(PRESETS))
    ap.add_argument('--layers', type=int)
    ap.add_argument('--hidden', type=int)
    ap.add_argument('--heads', type=int)
    ap.add_argument('--ffn', type=int)
    ap.add_argument('--vocab', type=int)
    ap.add_argument('--position', choices=['rope', 'alibi'])
    ap.add_argument('--shards', type=int, default=3)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--extras', action='store_true')
    ap.add_argument('--hashes', action='store_true')
    a = ap.parse_args()
    c = dict(PRESETS[a.preset]) if a.preset else dict(max_len=4096)
    for k in ('layers', 'hidden', 'heads', 'ffn', 'vocab', 'position'):
        if getattr(a, k) is not None:
            c[k] = getattr(a, k)
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    items = names_and_shapes(c)
    sizes = [2 * torch.Size(s).numel() for _, s in items]
    total = sum(sizes)
    # split into --shards groups of about equal bytes, in order (as save_pretrained's max_shard_size would)
    groups, cur, acc = [], [], 0
    for (name, shape), b in zip(items, sizes):
        cur.append((name, shape))
        acc += b
        if acc >= total * (len(groups) + 1) / a.shards and len(groups) < a.shards - 1:
            groups.append(cur)
            cur = []
    groups.append(cur)
    groups = [g for g in groups if g]
    n = len(groups)
    pool = Pool(min(2 ** 27, total // 2))
    weight_map, hashes = {}, {}
    for i, g in enumerate(groups):
        fname = f'pytorch_model-{i + 1:05d}-of-{n:05d}.bin'
        sd = {}
        for name, shape in g:
            if name.endswith('layernorm.weight') or name == 'model.norm.weight':
                t = (1 + 0.1 * torch.randn(shape)).to(torch.bfloat16)
            else:
                t = pool.take(shape)
            sd[name] = t
            weight_map[name] = fname
        if a.extras and i == n - 1:
            base = sd[g[-1][0]]
            sd['extra.transposed'] = base.t()  # a strided view of the same storage
            sd['extra.slice'] = base[3:7]  # a view at a storage offset
            sd['extra.f16'] = torch.randn(5, 7).to(torch.float16)
            sd['extra.f32'] = torch.randn(3, 2, 4)
            for k in ('extra.transposed', 'extra.slice', 'extra.f16', 'extra.f32'):
                weight_map[k] = fname
        if a.hashes:
            for k, t in sd.items():
                hashes[k] = hashlib.sha256(tensor_bytes(t)).hexdigest()
        torch.save(sd, os.path.join(a.out, fname))
        del sd
    index = {'metadata': {'total_size': total}, 'weight_map': weight_map}
    with open(os.path.join(a.out, 'pytorch_model.bin.index.json'), 'w') as f:
        json.dump(index, f, indent=2, sort_keys=True)
    config = {
        'architectures': ['BaichuanForCausalLM'], 'model_type': 'baichuan',
        'hidden_size': c['hidden'], 'intermediate_size': c['ffn'], 'num_attention_heads': c['heads'],
        'num_hidden_layers': c['layers'], 'vocab_size': c['vocab'], 'model_max_length': c['max_len'],
        'max_position_embeddings': c['max_len'], 'rms_norm_eps': 1e-6, 'hidden_act': 'silu',
        'initializer_range': 0.02, 'pad_token_id': 0, 'bos_token_id': 1, 'eos_token_id': 2,
        'tie_word_embeddings': False, 'torch_dtype': 'bfloat16', 'use_cache': True,
        'position_embedding': c['position'],
    }
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    if a.hashes:
        with open(os.path.join(a.out, 'hashes.json'), 'w') as f:
            json.dump(hashes, f, indent=2, sort_keys=True)
    print(json.dumps({'out': a.out, 'shards': n, 'bytes': total}))


if __name__ == '__main__':
    main()
