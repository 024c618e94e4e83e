// The `baichuan2` command line: one sub-command per file in src/cli/, each a
// thin layer that parses flags, calls the library and prints.
import { Command, CommanderError } from 'commander';
import { registerBench } from './bench.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program.name('baichuan2').description('Baichuan 2 in TypeScript: train, fine-tune, evaluate and run Baichuan-2-architecture models').showHelpAfterError();
  program.exitOverride();
  registerBench(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    throw err;
  }
}
