// `baichuan2 lora merge --model DIR --adapter DIR --out DIR`: fold a PEFT
// LoRA adapter into the base weights and write a normal model folder.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadModelWithAdapter } from '../align/lora.js';
import { saveModel } from '../io/hf-folder.js';
import { requireDir } from './common.js';

export function registerLora(program: Command): void {
  const cmd = program.command('lora').description('LoRA adapters (Hugging Face PEFT layout)');
  cmd
    .command('merge')
    .description('merge an adapter into its base model: W += (alpha / r) B A; writes a model folder')
    .requiredOption('--model <dir>', 'base model folder (not quantised)')
    .requiredOption('--adapter <dir>', 'adapter folder (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'output model folder')
    .action((o: { model: string; adapter: string; out: string }) => {
      requireDir(o.model, '--model');
      requireDir(o.adapter, '--adapter');
      const { model, adapter } = loadModelWithAdapter(o.model, { adapter: o.adapter });
      adapter!.merge(model);
      const tok = path.join(o.model, 'tokenizer.model');
      const gen = path.join(o.model, 'generation_config.json');
      saveModel(model, o.out, {
        ...(fs.existsSync(tok) ? { tokenizerModel: tok } : {}),
        ...(fs.existsSync(gen) ? { generationConfig: JSON.parse(fs.readFileSync(gen, 'utf8')) as Record<string, unknown> } : {}),
      });
      console.log(`merged ${o.adapter} into ${o.model}: ${o.out}`);
    });
}
