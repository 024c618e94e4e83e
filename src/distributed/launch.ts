// `baichuan2 launch`: start the ranks of this node, torchrun-like. Each child
// runs the same command (`pretrain ...`, `sft ...`) with RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, NODE_RANK, MASTER_ADDR / MASTER_PORT (or
// BAICHUAN2_RDZV_DIR), BAICHUAN2_RUN_ID and OMP_NUM_THREADS (the node's cores
// split over its ranks, unless set). The launcher watches its children: the
// first one to fail (a non-zero exit other than 130, or a signal) is named
// ("rank 1 (pid 123) was killed by SIGKILL") and the others are stopped
// (SIGTERM, then SIGKILL after a grace period), so a dead rank ends the job in
// seconds. SIGINT is forwarded to every rank, which save a checkpoint after
// the same step and exit 130; a second SIGINT stops them at once.
// Across machines: one launcher per node with --nnodes, --node-rank and the
// same --master-addr / --master-port (node 0's address; its rank 0 hosts the
// rendezvous store). See docs/DISTRIBUTED.md.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import readline from 'node:readline';

export interface LaunchOptions {
  /** Ranks on this node. */
  nproc: number;
  nnodes?: number;
  nodeRank?: number;
  /** Rendezvous: node 0's address and a free port (default 127.0.0.1 and a free port when nnodes is 1). */
  masterAddr?: string;
  masterPort?: number;
  /** Or a folder every rank sees (Gloo's FileStore) instead of the TCP store. */
  rendezvousDir?: string;
  /** The CLI entry script and the command each rank runs. */
  script: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Time a rank gets to exit after SIGTERM before SIGKILL (default 5 s). */
  graceMs?: number;
  log?: (line: string) => void;
  /** Called with each child once spawned (tests send signals to one rank). */
  onSpawn?: (rank: number, child: ChildProcess) => void;
}

export interface LaunchResult {
  /** 0 when every rank finished, 130 when they stopped on SIGINT, else 1. */
  code: number;
  /** The first rank that failed. */
  failed?: { rank: number; pid: number; code: number | null; signal: NodeJS.Signals | null };
}

/** A port nobody listens on now (the OS's pick): rank 0's rendezvous store binds it a moment later. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function check(o: LaunchOptions): { nnodes: number; nodeRank: number } {
  const int = (v: number | undefined, name: string, min: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
  };
  int(o.nproc, '--nproc', 1);
  int(o.nnodes, '--nnodes', 1);
  int(o.nodeRank, '--node-rank', 0);
  const nnodes = o.nnodes ?? 1, nodeRank = o.nodeRank ?? 0;
  if (nodeRank >= nnodes) throw new Error(`--node-rank ${nodeRank} must be below --nnodes ${nnodes}`);
  if (nnodes > 1 && !o.rendezvousDir && (!o.masterAddr || !o.masterPort)) throw new Error('--nnodes > 1 needs --master-addr and --master-port (node 0\'s address; the same on every node), or --rdzv-dir on a shared filesystem');
  if (o.masterPort !== undefined && (!Number.isInteger(o.masterPort) || o.masterPort < 1 || o.masterPort > 65535)) throw new Error(`--master-port must be in 1..65535, got ${o.masterPort}`);
  if (!o.args.length) throw new Error('launch: no command after --, e.g. baichuan2 launch --nproc 2 -- pretrain --config train.json');
  return { nnodes, nodeRank };
}

/** Start this node's ranks and wait for them; never throws for a rank's failure (see LaunchResult). */
export async function launch(o: LaunchOptions): Promise<LaunchResult> {
  const { nnodes, nodeRank } = check(o);
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const world = o.nproc * nnodes;
  const base = o.env ?? process.env;
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  const masterPort = o.rendezvousDir ? undefined : (o.masterPort ?? await freePort(masterAddr));
  // the key prefix of the rendezvous: the same on every node of the job (each node's launcher derives it from the
  // rendezvous address, or BAICHUAN2_RUN_ID sets it), fresh on a single node
  const runId = base.BAICHUAN2_RUN_ID || (nnodes > 1
    ? crypto.createHash('sha256').update(`${o.rendezvousDir ?? `${masterAddr}:${masterPort}`}/${world}`).digest('hex').slice(0, 12)
    : crypto.randomBytes(6).toString('hex'));
  const threads = base.OMP_NUM_THREADS || String(Math.max(1, Math.floor(os.availableParallelism() / o.nproc)));
  const children: { rank: number; child: ChildProcess; done: boolean }[] = [];
  let failed: LaunchResult['failed'];
  let interrupted = false, killTimer: NodeJS.Timeout | null = null;

  const stopOthers = () => {
    for (const c of children) if (!c.done) c.child.kill('SIGTERM');
    killTimer ??= setTimeout(() => { for (const c of children) if (!c.done) c.child.kill('SIGKILL'); }, o.graceMs ?? 5000);
  };
  const onSigint = () => {
    if (interrupted) { log('launch: second interrupt: stopping every rank now'); stopOthers(); return; }
    interrupted = true;
    log('launch: interrupt: every rank saves a checkpoint after this step and stops (interrupt again to stop at once)');
    for (const c of children) if (!c.done) c.child.kill('SIGINT');
  };
  const onSigterm = () => stopOthers();
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  const exits: Promise<void>[] = [];
  for (let local = 0; local < o.nproc; local++) {
    const rank = nodeRank * o.nproc + local;
    const env: NodeJS.ProcessEnv = {
      ...base, RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(local), LOCAL_WORLD_SIZE: String(o.nproc),
      NODE_RANK: String(nodeRank), BAICHUAN2_RUN_ID: runId, OMP_NUM_THREADS: threads,
      ...(o.rendezvousDir ? { BAICHUAN2_RDZV_DIR: o.rendezvousDir } : { MASTER_ADDR: masterAddr, MASTER_PORT: String(masterPort) }),
    };
    // rank 0 speaks for the job on this terminal; the others' lines (errors, mostly) are prefixed with their rank
    const child = spawn(process.execPath, [...process.execArgv, o.script, ...o.args], { env, stdio: rank === 0 ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'] });
    for (const s of [child.stdout, child.stderr]) if (s) readline.createInterface({ input: s }).on('line', (l) => process.stderr.write(`[rank ${rank}] ${l}\n`));
    const entry = { rank, child, done: false };
    children.push(entry);
    o.onSpawn?.(rank, child);
    exits.push(new Promise<void>((resolve) => {
      child.on('error', (e) => { log(`launch: rank ${rank} could not start: ${e.message}`); entry.done = true; failed ??= { rank, pid: -1, code: null, signal: null }; stopOthers(); resolve(); });
      child.on('exit', (code, signal) => {
        entry.done = true;
        const ok = code === 0 || (code === 130 && !signal);
        if (!ok && !failed) {
          failed = { rank, pid: child.pid ?? -1, code, signal };
          log(`launch: rank ${rank} (pid ${child.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; stopping the other ${world - 1} rank(s)`);
          stopOthers();
        }
        resolve();
      });
    }));
  }
  log(`launch: ${o.nproc} rank(s) on this node (${world} in all${nnodes > 1 ? `, node ${nodeRank} of ${nnodes}` : ''}), ${threads} thread(s) each; pids ${children.map((c) => `${c.rank}:${c.child.pid}`).join(' ')}`);
  try {
    await Promise.all(exits);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    if (killTimer) clearTimeout(killTimer);
  }
  if (failed) return { code: 1, failed };
  const codes = children.map((c) => c.child.exitCode);
  return { code: interrupted || codes.includes(130) ? 130 : 0 };
}
