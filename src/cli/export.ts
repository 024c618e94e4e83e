// `baichuan2 export gguf`: write a model folder (or a GGUF file) as GGUF for llama.cpp / Ollama.
import fs from 'node:fs';
import type { Command } from 'commander';
import { exportGguf, openSource, GGUF_TARGETS } from '../io/gguf-export.js';
import type { GgufTarget } from '../io/gguf-baichuan.js';
import { UsageError } from './flags.js';
import { Progress } from './progress.js';

export function registerExport(program: Command): void {
  const exp = program.command('export').description('export a model to another format');
  exp
    .command('gguf')
    .description('write a GGUF file for llama.cpp, Ollama and LM Studio (architecture "baichuan"), tensor by tensor')
    .requiredOption('--model <path>', 'model folder (float, or 8-/4-bit from `baichuan2 quantize`) or a GGUF file')
    .requiredOption('--out <file>', 'output .gguf file')
    .option('--type <t>', `tensor type: ${GGUF_TARGETS.join(', ')} (default: the model's own: its dtype, or its bits)`)
    .option('--tokenizer <file>', 'tokenizer.model (default: the model folder\'s)')
    .option('--name <text>', 'general.name (default: the folder\'s name)')
    .action((o: { model: string; out: string; type?: string; tokenizer?: string; name?: string }) => {
      if (!fs.existsSync(o.model)) throw new UsageError(`--model ${o.model}: no such folder or file`);
      if (o.type !== undefined && !GGUF_TARGETS.includes(o.type as GgufTarget)) throw new UsageError(`--type must be one of ${GGUF_TARGETS.join(', ')}, got '${o.type}'`);
      if (o.tokenizer && !fs.existsSync(o.tokenizer)) throw new UsageError(`--tokenizer ${o.tokenizer}: no such file`);
      let bar: Progress | null = null;
      const src = openSource(o.model, o.tokenizer);
      const r = exportGguf(src, o.out, { type: o.type as GgufTarget | undefined, name: o.name, onProgress: (d, t) => { if (t > 50) (bar ??= new Progress('export', t)).update(d); } });
      for (const w of r.warnings) console.error(`warning: ${w}`);
      console.log(`${r.file}: ${r.type}, ${r.tensors} tensors, ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s`);
    });
}
