// `baichuan2 launch --nproc N [--nnodes M --node-rank K --master-addr A --master-port P] -- <command ...>`:
// start N data-parallel ranks of `pretrain` or `sft` on this node (src/distributed/launch.ts).
import type { Command } from 'commander';
import { launch } from '../distributed/launch.js';
import { parseIntFlag, UsageError } from './flags.js';

interface LaunchFlags { nproc: string; nnodes?: string; nodeRank?: string; masterAddr?: string; masterPort?: string; rdzvDir?: string }

export function registerLaunch(program: Command): void {
  program
    .command('launch')
    .description('run a command (pretrain, sft) as N data-parallel ranks over Gloo: baichuan2 launch --nproc 2 -- pretrain --config train.json')
    .requiredOption('--nproc <n>', 'ranks on this node')
    .option('--nnodes <n>', 'machines in the job (default 1)')
    .option('--node-rank <k>', 'this machine\'s index, 0..nnodes-1 (default 0)')
    .option('--master-addr <host>', 'node 0\'s address, reachable from every node (default 127.0.0.1)')
    .option('--master-port <port>', 'a free port on node 0 for the rendezvous store (default: any free port, single node only)')
    .option('--rdzv-dir <dir>', 'rendezvous through files in this shared folder instead of TCP')
    .argument('<command...>', 'the command each rank runs, after --')
    .action(async (command: string[], o: LaunchFlags) => {
      const sub = command[0];
      if (sub !== 'pretrain' && sub !== 'sft') throw new UsageError(`launch runs pretrain or sft, got '${sub}'`);
      const r = await launch({
        nproc: parseIntFlag(o.nproc, '--nproc', 1, 1024),
        ...(o.nnodes ? { nnodes: parseIntFlag(o.nnodes, '--nnodes', 1) } : {}),
        ...(o.nodeRank ? { nodeRank: parseIntFlag(o.nodeRank, '--node-rank', 0) } : {}),
        ...(o.masterAddr ? { masterAddr: o.masterAddr } : {}),
        ...(o.masterPort ? { masterPort: parseIntFlag(o.masterPort, '--master-port', 1, 65535) } : {}),
        ...(o.rdzvDir ? { rendezvousDir: o.rdzvDir } : {}),
        script: process.argv[1]!,
        args: command,
      });
      process.exitCode = r.code;
    });
}
