// `baichuan2 info DIR`: what a model folder holds, read from headers only.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describeWeights, readConfig } from '../io/hf-folder.js';
import { BaichuanForCausalLM } from '../model/baichuan.js';
import { requireDir } from './common.js';
import { kernelInfo, kernelLine } from '../engine/backend.js';
import { describeGguf, isGgufFile } from '../io/gguf-baichuan.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('describe a model folder (config, parameter count, weight files) without loading weights')
    .argument('<dir>', 'model folder')
    .option('--json', 'print JSON')
    .action((dir: string, o: { json?: boolean }) => {
      if (isGgufFile(dir)) { ggufInfo(dir, !!o.json); return; }
      requireDir(dir, 'DIR');
      const cfg = readConfig(dir);
      const params = new BaichuanForCausalLM(cfg).parameterCount();
      const w = describeWeights(dir);
      const bytes = w.files.reduce((s, f) => s + fs.statSync(f).size, 0);
      const info = {
        folder: path.resolve(dir), position: cfg.position, positionSource: cfg.positionSource,
        layers: cfg.numHiddenLayers, hidden: cfg.hiddenSize, heads: cfg.numAttentionHeads, headDim: cfg.hiddenSize / cfg.numAttentionHeads,
        ffn: cfg.intermediateSize, vocab: cfg.vocabSize, context: cfg.modelMaxLength, rmsNormEps: cfg.rmsNormEps, zLossWeight: cfg.zLossWeight,
        dtype: cfg.torchDtype, parameters: params, weightFormat: w.format, weightFiles: w.files.map((f) => path.basename(f)), weightBytes: bytes,
        tensors: w.tensors, tensorBytesByDtype: w.bytesByDtype,
        tokenizer: fs.existsSync(path.join(dir, 'tokenizer.model')),
        kernels: { active: kernelInfo().arch, supported: kernelInfo().supported, caps: kernelInfo().caps, bf16Gemm: kernelInfo().bf16Gemm, threads: kernelInfo().threads },
      };
      if (o.json) { console.log(JSON.stringify(info)); return; }
      console.log(`${info.folder}
  architecture  Baichuan 2, ${cfg.position === 'rope' ? 'RoPE (7B style)' : 'ALiBi (13B style)'}${cfg.positionSource === 'inferred' ? ' [inferred from shapes: config has no position_embedding]' : ''}
  shape         ${info.layers} layers, hidden ${info.hidden}, ${info.heads} heads x ${info.headDim}, ffn ${info.ffn}, vocab ${info.vocab}
  context       ${info.context} tokens
  parameters    ${params.toLocaleString('en-US')} (${(params / 1e9).toFixed(2)} B)
  weights       ${info.weightFiles.length > 4 ? `${info.weightFiles.length} ${w.format} shards` : info.weightFiles.join(', ')} (${(bytes / 2 ** 30).toFixed(2)} GiB, config says ${cfg.torchDtype})
  tensors       ${w.tensors}: ${Object.entries(w.bytesByDtype).map(([d, b]) => `${(b / 2 ** 30).toFixed(2)} GiB ${d}`).join(', ')}
  tokenizer     ${info.tokenizer ? 'tokenizer.model' : 'none'}
  kernels       ${kernelLine()}; this CPU runs ${info.kernels.supported.join(', ')}`);
    });
}

function ggufInfo(file: string, json: boolean): void {
  const d = describeGguf(file), cfg = d.config;
  const params = new BaichuanForCausalLM(cfg).parameterCount();
  const info = {
    file: path.resolve(file), name: d.name, position: cfg.position, layers: cfg.numHiddenLayers, hidden: cfg.hiddenSize, heads: cfg.numAttentionHeads,
    ffn: cfg.intermediateSize, vocab: cfg.vocabSize, context: cfg.modelMaxLength, parameters: params, tensorTypes: d.types, bytes: fs.statSync(file).size,
    tokenizer: d.tokenizer, llamaCppWarning: d.warning,
  };
  if (json) { console.log(JSON.stringify(info)); return; }
  console.log(`${info.file} (GGUF, '${d.name}')
  architecture  Baichuan 2, ${cfg.position === 'rope' ? 'RoPE (7B style)' : 'ALiBi (13B style)'}
  shape         ${info.layers} layers, hidden ${info.hidden}, ${info.heads} heads x ${info.hidden / info.heads}, ffn ${info.ffn}, vocab ${info.vocab}
  context       ${info.context} tokens
  parameters    ${params.toLocaleString('en-US')} (${(params / 1e9).toFixed(2)} B)
  tensors       ${Object.entries(d.types).map(([t, n]) => `${n} ${t}`).join(', ')} (${(info.bytes / 2 ** 30).toFixed(2)} GiB)
  tokenizer     ${d.tokenizer ? 'tokenizer.ggml (SentencePiece)' : 'none'}${d.warning ? `\n  warning       ${d.warning}` : ''}`);
}
