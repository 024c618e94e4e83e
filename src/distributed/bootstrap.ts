// The seam for device communicators (NCCL, RCCL, ...): what a CUDA backend
// registers so that `baichuan2 launch` runs its ranks on GPUs with no change
// to the trainer. NCCL needs one thing from outside: the 128-byte
// ncclUniqueId that rank 0 makes (ncclGetUniqueId) and every rank passes to
// ncclCommInitRank. Like llm.c (which sends it over a TCP socket or a shared
// file), we carry it through the same rendezvous as Gloo: the TCP store that
// rank 0 hosts on MASTER_ADDR:MASTER_PORT, or a file in BAICHUAN2_RDZV_DIR.
// Nothing here is CUDA: `shareUniqueId` is tested with random bytes, and a
// backend is only a registration (docs/DISTRIBUTED.md, "Adding NCCL").
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../engine/atomic-write.js';
import type { Communicator, DistEnv } from './communicator.js';
import { startStoreServer, StoreClient } from './store.js';

export interface DeviceBackend {
  /** The name BAICHUAN2_DIST_BACKEND selects ('nccl'). */
  readonly name: string;
  /** Rank 0 only: a fresh unique id (ncclGetUniqueId). */
  newUniqueId(): Uint8Array;
  /** Every rank: join the communicator (cudaSetDevice(localRank); ncclCommInitRank(world, id, rank)). */
  connect(o: { rank: number; worldSize: number; localRank: number; uniqueId: Uint8Array; timeoutMs: number }): Promise<Communicator>;
}

const backends = new Map<string, DeviceBackend>();

export function registerDeviceBackend(b: DeviceBackend): void {
  if (b.name === 'gloo' || b.name === 'local') throw new Error(`device backend: '${b.name}' is a built-in name`);
  backends.set(b.name, b);
}

export function deviceBackend(name: string): DeviceBackend {
  const b = backends.get(name);
  if (!b) throw new Error(`BAICHUAN2_DIST_BACKEND=${name}: no such backend is registered (built in: gloo${backends.size ? `; registered: ${[...backends.keys()].join(', ')}` : ''})`);
  return b;
}

/**
 * Rank 0 makes the id with `make`; every rank gets the same bytes. Over the
 * TCP store (rank 0 hosts it until every rank has read the id) or through an
 * atomically written file in the rendezvous folder.
 */
export async function shareUniqueId(d: DistEnv, make: () => Uint8Array, key = 'nccl-unique-id'): Promise<Uint8Array> {
  const name = `${d.runId}/${key}`;
  if (!d.master) {
    const file = path.join(d.rendezvousDir!, name.replace(/[^A-Za-z0-9._-]/g, '_'));
    if (d.rank === 0) { const id = make(); writeFileAtomic(file, id); return id; }
    const deadline = Date.now() + d.timeoutMs;
    while (!fs.existsSync(file)) {
      if (Date.now() > deadline) throw new Error(`${file}: rank 0 did not publish the unique id within ${Math.round(d.timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return new Uint8Array(fs.readFileSync(file));
  }
  const server = d.rank === 0 ? await startStoreServer(d.master.host === 'localhost' ? '127.0.0.1' : (d.master.host.includes(':') ? '::' : '0.0.0.0'), d.master.port) : null;
  try {
    const client = await StoreClient.connect(d.master.host, d.master.port, d.timeoutMs);
    try {
      if (d.rank === 0) await client.set(name, make());
      const id = await client.get(name, d.timeoutMs);
      await client.set(`${name}/read/${d.rank}`, new Uint8Array([1]));
      await server?.waitFor(Array.from({ length: d.worldSize }, (_, r) => `${name}/read/${r}`), d.timeoutMs);
      return id;
    } finally {
      client.close();
    }
  } finally {
    await server?.close();
  }
}
