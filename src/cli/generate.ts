// `baichuan2 generate`: sample (or greedy-decode) a continuation of a prompt.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { streamText } from '../infer/stream.js';
import { generate } from '../infer/generate.js';
import { BAICHUAN_CHAT_SAMPLING, type SamplingOptions } from '../infer/sampling.js';
import { UsageError, parseFloatFlag, parseIntFlag } from './flags.js';
import { openModel, openTokenizer, parseIds, requireDir } from './common.js';

export interface SamplingFlags {
  maxNewTokens?: string; temperature?: string; topK?: string; topP?: string; repetitionPenalty?: string; seed?: string; greedy?: boolean;
}

export function addSamplingFlags(c: Command): Command {
  return c
    .option('--max-new-tokens <n>', 'tokens to generate', '128')
    .option('--temperature <t>', 'sampling temperature (default: generation_config.json, else 0.3)')
    .option('--top-k <k>', 'top-k (default: generation_config.json, else 5)')
    .option('--top-p <p>', 'top-p (default: generation_config.json, else 0.85)')
    .option('--repetition-penalty <r>', 'HF repetition penalty (default: generation_config.json, else 1.05)')
    .option('--seed <n>', 'sampling seed', '0')
    .option('--greedy', 'argmax decoding (the repetition penalty still applies if given)');
}

/** Flags over generation_config.json over Baichuan 2 Chat's defaults. */
export function samplingFrom(o: SamplingFlags, modelDir: string): SamplingOptions & { maxNewTokens: number; seed: number } {
  let gc: Record<string, number> = {};
  const f = path.join(modelDir, 'generation_config.json');
  if (fs.existsSync(f)) gc = JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, number>;
  const pick = (flag: string | undefined, name: string, key: string, def: number, min: number, max: number) =>
    flag !== undefined ? parseFloatFlag(flag, name, min, max) : (gc[key] ?? def);
  return {
    greedy: !!o.greedy,
    maxNewTokens: parseIntFlag(o.maxNewTokens ?? '128', '--max-new-tokens', 0),
    temperature: pick(o.temperature, '--temperature', 'temperature', BAICHUAN_CHAT_SAMPLING.temperature, 1e-6, 100),
    topK: Math.round(pick(o.topK, '--top-k', 'top_k', BAICHUAN_CHAT_SAMPLING.topK, 0, 1e9)),
    topP: pick(o.topP, '--top-p', 'top_p', BAICHUAN_CHAT_SAMPLING.topP, 1e-6, 1),
    repetitionPenalty: o.greedy && o.repetitionPenalty === undefined ? 1 : pick(o.repetitionPenalty, '--repetition-penalty', 'repetition_penalty', BAICHUAN_CHAT_SAMPLING.repetitionPenalty, 1e-6, 100),
    seed: parseIntFlag(o.seed ?? '0', '--seed', 0, 2 ** 32 - 1),
  };
}

export function registerGenerate(program: Command): void {
  addSamplingFlags(program
    .command('generate')
    .description('continue a prompt (text needs the folder\'s tokenizer.model; --ids works without)')
    .requiredOption('--model <dir>', 'model folder')
    .option('--prompt <text>', 'prompt text')
    .option('--ids <ids>', 'prompt token ids')
    .option('--tokenizer <file>', 'tokenizer.model (default: the model folder\'s)')
    .option('--adapter <dir>', 'a LoRA adapter folder (PEFT layout) on top of the model')
    .option('--json', 'last line: {"ids": [new ids], "text": ...}'))
    .action(async (o: SamplingFlags & { model: string; prompt?: string; ids?: string; tokenizer?: string; adapter?: string; json?: boolean }) => {
      if ((o.prompt === undefined) === (o.ids === undefined)) throw new UsageError('give exactly one of --prompt, --ids');
      const dir = requireDir(o.model, '--model');
      const s = samplingFrom(o, dir);
      const model = openModel(dir, undefined, o.adapter);
      const tok = o.prompt !== undefined || o.tokenizer || fs.existsSync(path.join(dir, 'tokenizer.model')) ? openTokenizer(dir, o.tokenizer) : null;
      const prompt = o.ids !== undefined ? parseIds(o.ids) : tok!.encode(o.prompt!);
      if (!tok) {
        const r = generate(model, [prompt], s);
        console.log(JSON.stringify({ ids: r.tokens[0], text: null }));
        return;
      }
      const it = streamText(model, tok, prompt, s);
      let res = await it.next();
      while (!res.done) {
        if (!o.json) process.stdout.write(res.value);
        res = await it.next();
      }
      if (o.json) console.log(JSON.stringify({ ids: res.value.ids, text: res.value.text }));
      else process.stdout.write('\n');
    });
}
