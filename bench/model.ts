// `baichuan2 bench decode` and `bench tokenizer`: inference and tokenizer speed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/io/hf-folder.js';
import { GenerationSession } from '../src/infer/generate.js';
import { Rng } from '../src/engine/rng.js';
import { loadTokenizer } from '../src/io/tokenizer-file.js';
import { native } from '../src/engine/native.js';
import { bytesPerElement } from '../src/engine/dtype.js';
import type { BaichuanForCausalLM } from '../src/model/baichuan.js';
import { Linear, NormHead } from '../src/model/layers.js';
import { machineInfo, machineLine } from './machine.js';
import { kernelInfo, setKernels } from '../src/engine/backend.js';
import type { KernelBuild } from '../src/engine/native.js';
import { readConfig } from '../src/io/hf-folder.js';
import { benchLlamaCpp, type PeerResult } from './llama-cpp.js';

export interface DecodeBench {
  model: string; params: number; dtype: string; prompt_tokens: number; new_tokens: number;
  /** the kernel build this row ran on; "<build> (composed layers)" for a row with the fused decode layer off */
  build: string;
  load_s: number; prefill_tokens_per_s: number; decode_tokens_per_s: number; peak_rss_bytes: number;
  /** Weight bytes one decode step reads (all matrices; one embedding row). */
  bytes_per_token: number;
  /** Measured read bandwidth (all threads, 1 GiB buffer, best of 7). */
  bandwidth_gb_s: number;
  /** bandwidth / bytes_per_token: the decode speed if weights streamed at full bandwidth. */
  bandwidth_limit_tokens_per_s: number;
  threads: number;
  /** CPU seconds (all threads) of the prefill, and per decoded token: less sensitive to other load than wall time, though spin-waiting threads count */
  prefill_cpu_s: number;
  decode_cpu_s_per_token: number;
  /** llama.cpp on the same weights (GGUF from our exporter) and threads, same run; null when not run, with the reason in peer_note */
  peer: PeerResult | null;
  peer_note?: string;
}

/** Read bandwidth of this machine: a 1 GiB buffer read on all threads, the best of 7 passes (as STREAM reports). */
export function measureBandwidth(bytes = 2 ** 30): number {
  let buf: Uint8Array | null = new Uint8Array(bytes);
  for (let i = 0; i < buf.length; i += 4096) buf[i] = i & 255;  // fault every page in first
  native.readBytes(buf);
  const times: number[] = [];
  for (let r = 0; r < 7; r++) { const t0 = performance.now(); native.readBytes(buf); times.push((performance.now() - t0) / 1000); }
  times.sort((a, b) => a - b);
  buf = null;
  return bytes / times[0]! / 1e9;
}

/** Bytes of weights a decode step streams: every Linear and the head in full, one embedding row. */
export function decodeBytesPerToken(model: BaichuanForCausalLM): number {
  let bytes = 0;
  for (const m of model.modules()) {
    if (!(m instanceof Linear || m instanceof NormHead)) continue;
    if (m.quantized) { bytes += m.quantized.bytes; continue; }
    const w = m instanceof Linear ? m.weight : m.normalizedWeight();
    bytes += w.size * bytesPerElement(w.dtype);
  }
  const emb = new Map(model.namedParameters()).get('model.embed_tokens')!;
  return bytes + emb.shape[1]! * bytesPerElement(emb.dtype);
}

/**
 * Prefill and decode on the active kernel build and then on each of `before`
 * (e.g. avx2), the model loaded once: before/after in the same run.
 */
export function benchDecode(dir: string, promptTokens: number, newTokens: number, log: (s: string) => void = () => {}, before: KernelBuild[] = [], o: { peer?: boolean; bandwidthBytes?: number; composed?: boolean } = {}): DecodeBench[] {
  const bw = measureBandwidth(o.bandwidthBytes);  // before loading, so the buffer is freed before the model's pages compete for memory
  log(`read bandwidth ${bw.toFixed(1)} GB/s`);
  const threads = native.info().threads;
  // llama.cpp first, in a child process: its memory is returned before our model loads
  let peer: PeerResult | null = null, peerNote: string | undefined;
  if (o.peer) {
    try { peer = benchLlamaCpp(dir, promptTokens, newTokens, threads, readConfig(dir).vocabSize, log); }
    catch (e) { peerNote = (e as Error).message; log(`llama.cpp not measured: ${peerNote}`); }
  } else peerNote = 'not run (--peer none)';
  const t0 = performance.now();
  const model = loadModel(dir, { onProgress: (d, t) => { if (d === t || d % 50 === 0) log(`loading ${d}/${t}`); } });
  const load = (performance.now() - t0) / 1000;
  const rng = new Rng(1);
  const prompt = Array.from({ length: promptTokens }, () => 3 + rng.int(model.config.vocabSize - 3));
  const w = (model.model.layers[0]!.self_attn.W_pack as Linear).quantized;
  const dtype = w ? `q${w.bits} g${w.groupSize}` : [...model.namedParameters()][0]![1].dtype;
  const bytesPerToken = decodeBytesPerToken(model);
  const active = kernelInfo().arch;
  const rows: DecodeBench[] = [];
  try {
    // o.composed: the active build once more with the fused decode layer off (its before, same run)
    const runs: [KernelBuild, boolean][] = [[active, true], ...(o.composed ? [[active, false] as [KernelBuild, boolean]] : []), ...before.filter((b) => b !== active).map((b): [KernelBuild, boolean] => [b, true])];
    for (const [kernels, fused] of runs) {
      setKernels(kernels);
      model.fusedDecode = fused;
      const build = fused ? kernels : `${kernels} (composed layers)`;
      // warm-up, as the llama.cpp peer gets: first-touch costs of buffers and threads
      const warm = new GenerationSession(model, [prompt.slice(0, Math.min(16, promptTokens))], { greedy: true, maxNewTokens: 3, eosTokenId: -1 });
      while (warm.step()) { /* prefill, then two decode steps */ }
      const s = new GenerationSession(model, [prompt], { greedy: true, maxNewTokens: newTokens + 1, eosTokenId: -1 });
      const c0 = process.cpuUsage();
      s.step();
      const c1 = process.cpuUsage();
      log(`[${build}] prefill ${promptTokens} tokens: ${s.prefillSeconds.toFixed(2)} s`);
      while (s.step()) { /* decode */ }
      const c2 = process.cpuUsage();
      log(`[${build}] decode ${newTokens} tokens: ${s.decodeSeconds.toFixed(2)} s`);
      rows.push({
        model: path.basename(path.resolve(dir)), params: model.parameterCount(), dtype, prompt_tokens: promptTokens, new_tokens: newTokens, build,
        load_s: load, prefill_tokens_per_s: promptTokens / s.prefillSeconds, decode_tokens_per_s: newTokens / s.decodeSeconds,
        peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
        bytes_per_token: bytesPerToken, bandwidth_gb_s: bw, bandwidth_limit_tokens_per_s: (bw * 1e9) / bytesPerToken,
        prefill_cpu_s: cpuSeconds(c0, c1), decode_cpu_s_per_token: cpuSeconds(c1, c2) / newTokens,
        threads, peer, ...(peerNote ? { peer_note: peerNote } : {}),
      });
    }
  } finally {
    setKernels(active);
    model.fusedDecode = true;
  }
  return rows;
}

export function decodeReport(rows: DecodeBench[]): string {
  const lines = [`### bench decode — ${machineLine(machineInfo())}`, '',
    '| model | params | weights | kernels | prompt | prefill tok/s | decode tok/s | GB read/token | bandwidth GB/s | limit tok/s | % of limit | load s | peak RSS |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.model} | ${(r.params / 1e9).toFixed(2)} B | ${r.dtype} | ${r.build} | ${r.prompt_tokens} | ${r.prefill_tokens_per_s.toFixed(1)} | ${r.decode_tokens_per_s.toFixed(2)} | ${(r.bytes_per_token / 1e9).toFixed(2)} | ${r.bandwidth_gb_s.toFixed(1)} | ${r.bandwidth_limit_tokens_per_s.toFixed(2)} | ${pct(r.decode_tokens_per_s, r)} | ${r.load_s.toFixed(1)} | ${(r.peak_rss_bytes / 2 ** 30).toFixed(2)} GiB |`);
  const first = rows[0];
  if (first?.peer) {
    const p = first.peer;
    lines.push('', `Peer in the same run: ${p.engine}, ${p.gguf_type.toUpperCase()} GGUF written by \`export gguf\` from the same folder (same codes and scales), ${first.threads} threads, the same prompt length and number of new tokens; ggml CPU backend: ${p.system_info.trim()}`, '',
      '| engine | kernels | prefill tok/s | ours ÷ llama.cpp (prefill) | decode tok/s | ours ÷ llama.cpp (decode) | % of bandwidth limit | prefill CPU s | decode CPU s/token |', '|---|---|---|---|---|---|---|---|---|',
      `| llama.cpp ${p.gguf_type.toUpperCase()} | ggml-cpu | ${p.prefill_tokens_per_s.toFixed(1)} | — | ${p.decode_tokens_per_s.toFixed(2)} | — | ${pct(p.decode_tokens_per_s, first)} | ${p.prefill_cpu_s.toFixed(1)} | ${p.decode_cpu_s_per_token.toFixed(3)} |`);
    for (const r of rows) lines.push(`| ours ${r.dtype} | ${r.build} | ${r.prefill_tokens_per_s.toFixed(1)} | ${(r.prefill_tokens_per_s / p.prefill_tokens_per_s).toFixed(2)} | ${r.decode_tokens_per_s.toFixed(2)} | ${(r.decode_tokens_per_s / p.decode_tokens_per_s).toFixed(2)} | ${pct(r.decode_tokens_per_s, r)} | ${r.prefill_cpu_s.toFixed(1)} | ${r.decode_cpu_s_per_token.toFixed(3)} |`);
  } else if (first?.peer_note) lines.push('', `llama.cpp: ${first.peer_note}`);
  return lines.join('\n') + '\n';
}

function cpuSeconds(a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number {
  return (b.user - a.user + b.system - a.system) / 1e6;
}

function pct(tokPerS: number, r: DecodeBench): string {
  return `${((100 * tokPerS) / r.bandwidth_limit_tokens_per_s).toFixed(0)}%`;
}

/** A Python that has the given module: Debian's python3 when the PATH one lacks it. */
export function pythonWith(module: string): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', `import ${module}`], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

export interface TokenizerBench { ours_mb_per_s: number; spm_mb_per_s: number | null; ratio: number | null; bytes: number; tokens: number; spm_tokens: number | null; note: string }

export function benchTokenizer(model: string, textsFile: string, log: (s: string) => void = () => {}): TokenizerBench {
  const texts = fs.readFileSync(textsFile, 'utf8').split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { text: string }).text);
  const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0);
  const tok = loadTokenizer(model);
  const runs: number[] = [];
  let tokens = 0;
  for (let r = 0; r < 4; r++) {
    const t = performance.now();
    tokens = 0;
    for (const x of texts) tokens += tok.encode(x).length;
    if (r > 0) runs.push((performance.now() - t) / 1000);  // the first run warms the JIT
  }
  runs.sort((a, b) => a - b);
  const ours = bytes / 1e6 / runs[1]!;
  log(`ours: ${ours.toFixed(2)} MB/s, ${tokens} tokens`);
  const py = pythonWith('sentencepiece');
  if (!py) return { ours_mb_per_s: ours, spm_mb_per_s: null, ratio: null, bytes, tokens, spm_tokens: null, note: 'SentencePiece not installed (apt-get install python3-sentencepiece)' };
  const tmp = path.join(os.tmpdir(), `bc2-texts-${process.pid}.json`);
  fs.writeFileSync(tmp, JSON.stringify(texts));
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/spm_encode.py');
  const r = spawnSync(py, [script, fs.statSync(model).isDirectory() ? path.join(model, 'tokenizer.model') : model, tmp], { encoding: 'utf8' });
  fs.rmSync(tmp);
  if (r.status !== 0) return { ours_mb_per_s: ours, spm_mb_per_s: null, ratio: null, bytes, tokens, spm_tokens: null, note: `SentencePiece run failed: ${r.stderr.trim().split('\n').pop()}` };
  const j = JSON.parse(r.stdout) as { mb_per_s: number; tokens: number; version: string };
  log(`SentencePiece ${j.version}: ${j.mb_per_s.toFixed(2)} MB/s, ${j.tokens} tokens`);
  return { ours_mb_per_s: ours, spm_mb_per_s: j.mb_per_s, ratio: ours / j.mb_per_s, bytes, tokens, spm_tokens: j.tokens, note: `SentencePiece ${j.version} (Python)` };
}

export function tokenizerReport(model: string, textsFile: string, b: TokenizerBench): string {
  return [`### bench tokenizer — ${machineLine(machineInfo())}`, '',
    `${path.basename(path.dirname(path.resolve(model)))}/${path.basename(model)} on ${path.basename(textsFile)} (${(b.bytes / 1e6).toFixed(2)} MB, one encode call per document); ${b.note}`, '',
    '| ours MB/s | SentencePiece MB/s | ratio | tokens (ours / spm) |', '|---|---|---|---|',
    `| ${b.ours_mb_per_s.toFixed(2)} | ${b.spm_mb_per_s?.toFixed(2) ?? 'n/a'} | ${b.ratio?.toFixed(2) ?? 'n/a'} | ${b.tokens} / ${b.spm_tokens ?? 'n/a'} |`].join('\n') + '\n';
}

export interface TokenizerTrainBench { ours_s: number; ours_bpt: number; spm_s: number | null; spm_bpt: number | null; vocab: number; note: string }

/** Train ours and spm_train on the same corpus and vocab size; bytes per token measured on held-out texts with each model. */
export async function benchTrainTokenizer(trainFile: string, valFile: string, vocab: number, log: (s: string) => void = () => {}): Promise<TokenizerTrainBench> {
  const { collectDocuments } = await import('../src/data/documents.js');
  const { trainBpe } = await import('../src/tokenizer/trainer.js');
  const { serializeModel } = await import('../src/tokenizer/sentencepiece-model.js');
  const { BpeTokenizer } = await import('../src/tokenizer/bpe.js');
  const texts = await collectDocuments([trainFile]);
  const val = await collectDocuments([valFile]);
  const valBytes = val.reduce((s, t) => s + Buffer.byteLength(t), 0);
  const bpt = (tok: InstanceType<typeof BpeTokenizer>) => valBytes / val.reduce((s, t) => s + tok.encode(t).length, 0);
  const cov = 0.9995, maxLen = 16;
  const t0 = performance.now();
  const { model } = trainBpe(texts, { vocabSize: vocab, characterCoverage: cov, maxPieceLength: maxLen });
  const ours = (performance.now() - t0) / 1000;
  const oursBpt = bpt(new BpeTokenizer(model));
  log(`ours: ${ours.toFixed(1)} s, ${oursBpt.toFixed(3)} bytes/token on the held-out texts`);
  const py = pythonWith('sentencepiece');
  if (!py) return { ours_s: ours, ours_bpt: oursBpt, spm_s: null, spm_bpt: null, vocab, note: 'SentencePiece not installed' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-spm-'));
  // spm_train reads sentences (lines); newlines become sentence breaks as our user-defined "\n" does
  fs.writeFileSync(path.join(dir, 'train.txt'), texts.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'tmp.model'), serializeModel(model));
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/spm_train.py');
  const r = spawnSync(py, [script, path.join(dir, 'train.txt'), String(vocab), String(maxLen), String(cov), path.join(dir, 'spm')], { encoding: 'utf8' });
  if (r.status !== 0) return { ours_s: ours, ours_bpt: oursBpt, spm_s: null, spm_bpt: null, vocab, note: `spm_train failed: ${r.stderr.trim().split('\n').pop()}` };
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; version: string };
  const spmBpt = bpt(loadTokenizer(path.join(dir, 'spm.model')));
  log(`spm_train ${j.version}: ${j.seconds.toFixed(1)} s, ${spmBpt.toFixed(3)} bytes/token`);
  fs.rmSync(dir, { recursive: true, force: true });
  return { ours_s: ours, ours_bpt: oursBpt, spm_s: j.seconds, spm_bpt: spmBpt, vocab, note: `SentencePiece ${j.version} trainer (Python binding of spm_train), 2 threads` };
}

export function trainTokenizerReport(trainFile: string, b: TokenizerTrainBench): string {
  return [`### bench train-tokenizer — ${machineLine(machineInfo())}`, '',
    `BPE, vocab ${b.vocab}, Baichuan 2 options (byte fallback, split digits, identity, no dummy prefix, whitespace-only pieces, max piece 16, coverage 0.9995) on ${path.basename(trainFile)}; bytes/token on the validation texts (higher is better); ${b.note}.`, '',
    '| trainer | time s | bytes/token |', '|---|---|---|',
    `| ours | ${b.ours_s.toFixed(1)} | ${b.ours_bpt.toFixed(3)} |`,
    `| spm_train | ${b.spm_s?.toFixed(1) ?? 'n/a'} | ${b.spm_bpt?.toFixed(3) ?? 'n/a'} |`].join('\n') + '\n';
}
