// A rank's place in the job, from the environment that `baichuan2 launch`
// (launch.ts), torchrun or mpirun set: RANK / WORLD_SIZE / LOCAL_RANK (or
// OpenMPI's OMPI_COMM_WORLD_*), MASTER_ADDR / MASTER_PORT for the TCP
// rendezvous store, or BAICHUAN2_RDZV_DIR for Gloo's FileStore on a shared
// folder; BAICHUAN2_DIST_TIMEOUT (seconds, default 300) bounds rendezvous and
// every collective; BAICHUAN2_DIST_BACKEND picks a registered device
// backend (bootstrap.ts) instead of Gloo; GLOO_SOCKET_IFNAME or BAICHUAN2_DIST_HOST picks the
// address this rank listens on. Validated here, once, with errors naming the
// variable.
import { GlooCommunicator } from './gloo.js';
import type { Communicator, DistEnv } from './communicator.js';
import { deviceBackend, shareUniqueId } from './bootstrap.js';

export type { DistEnv } from './communicator.js';

function intVar(env: NodeJS.ProcessEnv, names: string[], min: number, max = 2 ** 31 - 1): number | undefined {
  for (const n of names) {
    const v = env[n];
    if (v === undefined || v === '') continue;
    if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) throw new Error(`${n}=${JSON.stringify(v)}: expected an integer in ${min}..${max}`);
    return Number(v);
  }
  return undefined;
}

/** The job this process belongs to, or null when it was started alone (no WORLD_SIZE). */
export function distEnv(env: NodeJS.ProcessEnv = process.env): DistEnv | null {
  const worldSize = intVar(env, ['WORLD_SIZE', 'OMPI_COMM_WORLD_SIZE'], 1);
  if (worldSize === undefined) return null;
  const rank = intVar(env, ['RANK', 'OMPI_COMM_WORLD_RANK'], 0);
  if (rank === undefined) throw new Error('WORLD_SIZE is set but RANK is not');
  if (rank >= worldSize) throw new Error(`RANK=${rank} is outside WORLD_SIZE=${worldSize}`);
  const localRank = intVar(env, ['LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK'], 0) ?? rank;
  const timeoutS = intVar(env, ['BAICHUAN2_DIST_TIMEOUT'], 1, 86400) ?? 300;
  const dir = env.BAICHUAN2_RDZV_DIR || undefined;
  let master: DistEnv['master'];
  if (env.MASTER_ADDR) {
    const port = intVar(env, ['MASTER_PORT'], 1, 65535);
    if (port === undefined) throw new Error('MASTER_ADDR is set but MASTER_PORT is not');
    master = { host: env.MASTER_ADDR, port };
  }
  if (worldSize > 1 && !master && !dir) throw new Error(`WORLD_SIZE=${worldSize}: set MASTER_ADDR and MASTER_PORT (TCP rendezvous) or BAICHUAN2_RDZV_DIR (a shared folder)`);
  return {
    rank, worldSize, localRank, timeoutMs: timeoutS * 1000, runId: env.BAICHUAN2_RUN_ID || 'baichuan2',
    ...(master ? { master } : {}), ...(dir ? { rendezvousDir: dir } : {}),
    ...(env.BAICHUAN2_DIST_HOST ? { bindHost: env.BAICHUAN2_DIST_HOST } : {}),
    ...(env.GLOO_SOCKET_IFNAME ? { iface: env.GLOO_SOCKET_IFNAME } : {}),
  };
}

/**
 * Connect this rank to its job; null when the process is not part of one (or
 * is a world of one). Over Gloo, or over a registered device backend named by
 * BAICHUAN2_DIST_BACKEND (bootstrap.ts).
 */
export async function communicatorFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Communicator | null> {
  const d = distEnv(env);
  if (!d || d.worldSize === 1) return null;
  const name = env.BAICHUAN2_DIST_BACKEND || 'gloo';
  if (name !== 'gloo') {
    const b = deviceBackend(name);
    const uniqueId = await shareUniqueId(d, () => b.newUniqueId());
    return b.connect({ rank: d.rank, worldSize: d.worldSize, localRank: d.localRank, uniqueId, timeoutMs: d.timeoutMs });
  }
  return GlooCommunicator.connect({
    rank: d.rank, worldSize: d.worldSize, timeoutMs: d.timeoutMs, prefix: d.runId,
    ...(d.master ? { master: d.master } : { rendezvousDir: d.rendezvousDir! }),
    ...(d.bindHost ? { bindHost: d.bindHost } : {}), ...(d.iface ? { iface: d.iface } : {}),
  });
}

/**
 * Run `fn` as this process's rank: connected to the job when the environment
 * names one (launch, torchrun, mpirun), alone otherwise; the communicator is
 * closed afterwards whatever happens.
 */
export async function asRank<T>(fn: (comm: Communicator | null) => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const comm = await communicatorFromEnv(env);
  try {
    return await fn(comm);
  } finally {
    comm?.close();
  }
}
