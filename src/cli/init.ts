// `baichuan2 init`: a randomly initialised model folder from a preset or a config file.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { PRESETS, configFromJSON, configToJSON } from '../model/config.js';
import { BaichuanForCausalLM, hfName, initTensor } from '../model/baichuan.js';
import { DEFAULT_GENERATION_CONFIG, writeJSON } from '../io/hf-folder.js';
import { writeSafetensorsStreaming } from '../io/safetensors-stream.js';
import { Rng } from '../engine/rng.js';
import { UsageError, parseIntFlag } from './flags.js';
import { loadTokenizer } from '../io/tokenizer-file.js';
import { Progress } from './progress.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a randomly initialised Baichuan 2 model folder (HF layout)')
    .requiredOption('--preset <name|file>', `preset (${Object.keys(PRESETS).join(', ')}) or a config.json file`)
    .requiredOption('--out <dir>', 'output folder')
    .option('--seed <n>', 'random seed', '0')
    .option('--dtype <dtype>', 'weight dtype: f32 or bf16', 'f32')
    .option('--tokenizer <file>', 'copy this tokenizer.model into the folder')
    .action((o: { preset: string; out: string; seed: string; dtype: string; tokenizer?: string }) => {
      const seed = parseIntFlag(o.seed, '--seed', 0, 2 ** 32 - 1);
      if (o.dtype !== 'f32' && o.dtype !== 'bf16') throw new UsageError(`--dtype must be f32 or bf16, got '${o.dtype}'`);
      let json: Record<string, unknown>;
      if (PRESETS[o.preset]) json = { ...PRESETS[o.preset] };
      else if (fs.existsSync(o.preset)) json = JSON.parse(fs.readFileSync(o.preset, 'utf8')) as Record<string, unknown>;
      else throw new UsageError(`--preset: '${o.preset}' is neither a preset (${Object.keys(PRESETS).join(', ')}) nor a file`);
      json.torch_dtype = o.dtype === 'bf16' ? 'bfloat16' : 'float32';
      if (o.tokenizer) {
        if (!fs.existsSync(o.tokenizer)) throw new UsageError(`--tokenizer ${o.tokenizer}: file not found`);
        const V = loadTokenizer(o.tokenizer).vocabSize;
        // a preset takes the tokenizer's vocabulary; an explicit config must already agree
        if (PRESETS[o.preset]) json.vocab_size = V;
        else if (json.vocab_size !== V) throw new UsageError(`${o.preset}: vocab_size ${String(json.vocab_size)} does not match the tokenizer's ${V} pieces`);
      }
      const cfg = configFromJSON(json, o.preset);
      fs.mkdirSync(o.out, { recursive: true });
      // Build shapes without allocating the model, then generate each tensor as it is written.
      const model = new BaichuanForCausalLM(cfg);
      const rng = new Rng(seed);
      const params = [...model.namedParameters()].map(([n, p]) => ({ name: hfName(n), shape: [...p.shape] }));
      const bar = new Progress('init', params.length);
      let i = 0;
      writeSafetensorsStreaming(path.join(o.out, 'model.safetensors'), params.map((p) => ({
        name: p.name, shape: p.shape, dtype: o.dtype as 'f32' | 'bf16',
        produce: () => {
          const t = initTensor(p.name, p.shape, cfg, rng.nextU32());
          bar.update(++i);
          return o.dtype === 'bf16' ? t.astype('bf16') : t;
        },
      })), { format: 'pt' });
      writeJSON(path.join(o.out, 'config.json'), configToJSON(cfg));
      writeJSON(path.join(o.out, 'generation_config.json'), DEFAULT_GENERATION_CONFIG);
      if (o.tokenizer) fs.copyFileSync(o.tokenizer, path.join(o.out, 'tokenizer.model'));
      console.log(`wrote ${o.out}: ${cfg.position} model, ${model.parameterCount().toLocaleString('en-US')} parameters, ${o.dtype}`);
    });
}

