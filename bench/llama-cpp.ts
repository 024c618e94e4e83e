// The peer of `baichuan2 bench decode`: llama.cpp through node-llama-cpp, on the
// same weights and threads, in the same run. node-llama-cpp is not a dependency:
// the benchmark installs the pinned version into a cache folder
// (~/.cache/baichuan2-ts/node-llama-cpp, or $BAICHUAN2_LLAMA_CACHE, the folder the GGUF
// test (test/io/gguf-llama.test.ts) also installs into) with npm,
// CPU binaries only (--omit=optional plus @node-llama-cpp/linux-x64). The model is
// written as GGUF by our own exporter (src/io/gguf-export.ts): a quantised folder's
// codes and scales are copied into Q4_0 / Q8_0 blocks unchanged, so both engines
// read the same bytes per token. The GGUF is cached beside the package and reused
// while the folder is unchanged.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exportGguf, openSource } from '../src/io/gguf-export.js';
import { readQuantizationConfig } from '../src/io/quantized-folder.js';
import type { GgufTarget } from '../src/io/gguf-baichuan.js';

export const NODE_LLAMA_CPP_VERSION = '3.21.1';

export interface PeerResult {
  engine: string;  // e.g. "llama.cpp (node-llama-cpp 3.21.1, ggml-org/llama.cpp@v0.4.0)"
  gguf_type: GgufTarget;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  load_s: number;
  system_info: string;
  /** CPU seconds of the child process (all its threads) for the prefill, and per decoded token */
  prefill_cpu_s: number;
  decode_cpu_s_per_token: number;
}

export function cacheRoot(): string {
  return process.env.BAICHUAN2_CACHE ?? path.join(os.homedir(), '.cache', 'baichuan2-ts');
}

/** Where node-llama-cpp is installed. */
export function llamaCacheDir(): string {
  return process.env.BAICHUAN2_LLAMA_CACHE ?? path.join(cacheRoot(), 'node-llama-cpp');
}

/** The node-llama-cpp entry module, installed into the cache folder when missing. */
export function ensureNodeLlamaCpp(log: (s: string) => void): string {
  const dir = llamaCacheDir();
  const pkg = path.join(dir, 'node_modules', 'node-llama-cpp', 'package.json');
  const bins = path.join(dir, 'node_modules', '@node-llama-cpp', `${process.platform}-${process.arch}`, 'package.json');
  const version = (f: string) => { try { return (JSON.parse(fs.readFileSync(f, 'utf8')) as { version: string }).version; } catch { return null; } };
  if (version(pkg) !== NODE_LLAMA_CPP_VERSION || version(bins) !== NODE_LLAMA_CPP_VERSION) {
    log(`installing node-llama-cpp@${NODE_LLAMA_CPP_VERSION} into ${dir}`);
    fs.mkdirSync(dir, { recursive: true });
    const r = spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--omit=optional', '--ignore-scripts',
      `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, `@node-llama-cpp/${process.platform}-${process.arch}@${NODE_LLAMA_CPP_VERSION}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
    if (r.status !== 0) throw new Error(`npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION} failed: ${(r.stderr || r.stdout || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`);
  }
  const entry = path.join(dir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry}: missing after the install`);
  return entry;
}

/** The folder as GGUF of the matching type (q4 -> Q4_0, q8 -> Q8_0, floats -> their dtype), exported once and cached. */
export function cachedGguf(dir: string, log: (s: string) => void): { file: string; type: GgufTarget } {
  const qc = readQuantizationConfig(dir);
  if (qc && qc.group_size !== 32) throw new Error(`${dir}: group size ${qc.group_size}; llama.cpp's Q4_0 / Q8_0 need 32 (quantise with --group-size 32)`);
  const weights = path.join(dir, 'model.safetensors');
  const st = fs.statSync(fs.existsSync(weights) ? weights : path.join(dir, 'config.json'));
  const type: GgufTarget | undefined = qc ? (qc.bits === 8 ? 'q8_0' : 'q4_0') : undefined;
  const key = `${path.basename(path.resolve(dir))}-${Math.round(st.mtimeMs)}-${st.size}`;
  const folder = path.join(cacheRoot(), 'gguf');
  fs.mkdirSync(folder, { recursive: true });
  const file = path.join(folder, `${key}.${type ?? 'native'}.gguf`);
  if (!fs.existsSync(file)) {
    log(`exporting ${dir} to ${file}`);
    // writeGguf is atomic (temporary name, then rename): an interrupted export leaves no half file in the cache
    const r = exportGguf(openSource(dir), file, { type, onProgress: (d, t) => { if (d === t || d % 64 === 0) log(`gguf ${d}/${t}`); } });
    return { file, type: r.type };
  }
  return { file, type: type ?? 'bf16' };
}

/** llama.cpp prefill and decode of the same model on `threads` threads, in a child process. */
export function benchLlamaCpp(dir: string, promptTokens: number, newTokens: number, threads: number, vocabSize: number, log: (s: string) => void): PeerResult {
  const entry = ensureNodeLlamaCpp(log);
  const { file, type } = cachedGguf(dir, log);
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/llama_cpp_bench.mjs');
  log(`llama.cpp: ${path.basename(file)}, ${threads} threads`);
  const r = spawnSync(process.execPath, [script, entry, file, String(promptTokens), String(newTokens), String(threads), String(vocabSize), '1'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`llama.cpp run failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { prefill_tokens_per_s: number; decode_tokens_per_s: number; load_s: number; llama_cpp: string; system_info: string; prefill_cpu_s: number; decode_cpu_s: number };
  log(`llama.cpp: prefill ${j.prefill_tokens_per_s.toFixed(1)} tok/s, decode ${j.decode_tokens_per_s.toFixed(2)} tok/s`);
  return { engine: `llama.cpp (node-llama-cpp ${NODE_LLAMA_CPP_VERSION}, ${j.llama_cpp})`, gguf_type: type, prefill_tokens_per_s: j.prefill_tokens_per_s, decode_tokens_per_s: j.decode_tokens_per_s, load_s: j.load_s, system_info: j.system_info,
    prefill_cpu_s: j.prefill_cpu_s, decode_cpu_s_per_token: j.decode_cpu_s / newTokens };
}
