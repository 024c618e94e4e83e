// The `baichuan2` command line: one sub-command per file in src/cli/, each a
// thin layer that parses flags, calls the library and prints.
import { Command, CommanderError } from 'commander';
import { registerBench } from './bench.js';
import { registerInit } from './init.js';
import { registerInfo } from './info.js';
import { registerTokenize } from './tokenize.js';
import { registerLogits } from './logits.js';
import { registerGenerate } from './generate.js';
import { registerChat } from './chat.js';
import { registerTrainTokenizer } from './train-tokenizer.js';
import { registerPrepare } from './prepare.js';
import { registerPretrain } from './pretrain.js';
import { registerDemo } from './demo.js';
import { registerScaling } from './scaling.js';
import { registerEval } from './eval.js';
import { registerQuantize } from './quantize.js';
import { registerConvert } from './convert.js';
import { registerData } from './data.js';
import { registerExport } from './export.js';
import { registerSandbox } from './sandbox.js';
import { registerServe } from './serve.js';
import { registerSft } from './sft.js';
import { registerLora } from './lora.js';
import { registerTrainRm } from './train-rm.js';
import { registerDpo } from './dpo.js';
import { registerPpo } from './ppo.js';
import { registerScore } from './score.js';
import { registerLaunch } from './launch.js';
import { UsageError } from './flags.js';

/**
 * A closed stdout (`baichuan2 logits ... | head`) is a normal end, not an error: exit 0
 * quietly, for every command, instead of an unhandled EPIPE stack trace.
 */
export function exitQuietlyOnEpipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnEpipe();
  const program = new Command();
  program.name('baichuan2').description('Baichuan 2 in TypeScript: train, fine-tune, evaluate and run Baichuan-2-architecture models').showHelpAfterError();
  program.exitOverride();
  registerInit(program);
  registerInfo(program);
  registerTokenize(program);
  registerLogits(program);
  registerGenerate(program);
  registerChat(program);
  registerTrainTokenizer(program);
  registerPrepare(program);
  registerPretrain(program);
  registerDemo(program);
  registerScaling(program);
  registerEval(program);
  registerQuantize(program);
  registerConvert(program);
  registerData(program);
  registerExport(program);
  registerSandbox(program);
  registerServe(program);
  registerSft(program);
  registerLora(program);
  registerTrainRm(program);
  registerDpo(program);
  registerPpo(program);
  registerScore(program);
  registerLaunch(program);
  registerBench(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    const cmd = argv.slice(2).find((a) => !a.startsWith('-')) ?? '';
    console.error(`baichuan2${cmd ? ' ' + cmd : ''}: ${(err as Error).message}`);
    if (process.env.BAICHUAN2_DEBUG) console.error((err as Error).stack);
    process.exit(err instanceof UsageError ? 2 : 1);
  }
}
