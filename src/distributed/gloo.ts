// The Communicator for CPU ranks over Gloo (Debian libgloo-dev, the library
// behind PyTorch's CPU process group), through the separately built addon
// native/comm (built by `npm run build:comm` only when Gloo is installed).
// Gloo's TCP transport carries the data; rendezvous goes through our TCP
// key store (store.ts, hosted by rank 0) or Gloo's FileStore on a shared
// folder. Why Gloo rather than OpenMPI: its collectives take a timeout and
// fail at once when a peer's sockets close (a dead rank is an error, not a
// hang), it needs no mpirun or root-run flags, and it is what PyTorch users
// already run on CPUs. See docs/DISTRIBUTED.md.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import { count, divideBy, newStats, type CommBuffer, type Communicator, type ReduceOp } from './communicator.js';
import { startStoreServer } from './store.js';

interface NativeComm {
  connect(o: { rank: number; size: number; storeKind: 'tcp' | 'file'; storeHost?: string; storePort?: number; storePath?: string; prefix: string; bindHost?: string; iface?: string; timeoutMs: number }): Promise<void>;
  allReduce(buf: Float32Array | Float64Array): void;
  reduceScatter(buf: Float32Array): void;
  allGather(shard: CommBuffer, out: CommBuffer): void;
  broadcast(buf: CommBuffer, root: number): void;
  barrier(): void;
  close(): void;
}
interface Addon { Communicator: new () => NativeComm; glooVersion: number }

const addonFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'comm', 'build', 'Release', 'baichuan2_comm.node');
let addon: Addon | null | undefined;
let loadError = '';

function load(): Addon | null {
  if (addon !== undefined) return addon;
  if (!fs.existsSync(addonFile)) {
    loadError = `the Gloo backend is not built (${path.relative(process.cwd(), addonFile) || addonFile} is missing): apt-get install libgloo-dev, then npm run build:comm`;
    return (addon = null);
  }
  try {
    addon = createRequire(import.meta.url)(addonFile) as Addon;
  } catch (e) {
    loadError = `the Gloo backend failed to load (${(e as Error).message}); rebuild it with npm run build:comm`;
    addon = null;
  }
  return addon;
}

/** Whether the Gloo addon is built and loads; otherwise the reason (for t.skip and error messages). */
export function glooStatus(): { available: true } | { available: false; reason: string } {
  return load() ? { available: true } : { available: false, reason: loadError };
}

export interface GlooOptions {
  rank: number;
  worldSize: number;
  /** Rendezvous through the TCP store at host:port (rank 0 hosts it). */
  master?: { host: string; port: number };
  /** Or through Gloo's FileStore in a folder every rank sees. */
  rendezvousDir?: string;
  /** Address this rank's Gloo transport listens on, reachable by the others (default 127.0.0.1 for a local master, else the host name). */
  bindHost?: string;
  /** Or a network interface name (GLOO_SOCKET_IFNAME). */
  iface?: string;
  /** Rendezvous and collective timeout (default 300 s): a hung (not dead) peer fails after this. */
  timeoutMs?: number;
  /** Keys are scoped by this (a run id), so a reused store or folder cannot mix two jobs. */
  prefix?: string;
}

export class GlooCommunicator implements Communicator {
  readonly backend = 'gloo';
  readonly stats = newStats();
  private closed = false;
  private constructor(private readonly native: NativeComm, readonly rank: number, readonly worldSize: number) {}

  /** Rendezvous with the other ranks; resolves when the full mesh is connected. */
  static async connect(o: GlooOptions): Promise<GlooCommunicator> {
    const a = load();
    if (!a) throw new Error(loadError);
    if (!Number.isInteger(o.worldSize) || o.worldSize < 1) throw new RangeError(`world size must be a positive integer, got ${o.worldSize}`);
    if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.worldSize) throw new RangeError(`rank ${o.rank} is outside a world of ${o.worldSize}`);
    if (!o.master && !o.rendezvousDir) throw new Error('rendezvous: give a master address (MASTER_ADDR/MASTER_PORT) or a shared folder');
    const timeoutMs = o.timeoutMs ?? 300_000;
    const native = new a.Communicator();
    const server = o.master && o.rank === 0 ? await startStoreServer(o.master.host === 'localhost' ? '127.0.0.1' : wildcardFor(o.master.host), o.master.port) : null;
    try {
      const local = !o.master || ['127.0.0.1', 'localhost', '::1'].includes(o.master.host);
      await native.connect({
        rank: o.rank, size: o.worldSize, timeoutMs, prefix: o.prefix ?? 'baichuan2',
        ...(o.master ? { storeKind: 'tcp' as const, storeHost: o.master.host, storePort: server?.port ?? o.master.port } : { storeKind: 'file' as const, storePath: o.rendezvousDir! }),
        ...(o.iface ? { iface: o.iface } : { bindHost: o.bindHost ?? (local ? '127.0.0.1' : (await import('node:os')).hostname()) }),
      });
      // the store may go once every rank has connected (each sets connected/<rank> last); rank 0 waits on its
      // event loop, which serves the others meanwhile (a blocking barrier here would starve them)
      const prefix = o.prefix ?? 'baichuan2';
      await server?.waitFor(Array.from({ length: o.worldSize }, (_, r) => `${prefix}/connected/${r}`), timeoutMs);
    } catch (e) {
      native.close();
      throw e;
    } finally {
      await server?.close();
    }
    return new GlooCommunicator(native, o.rank, o.worldSize);
  }

  private live(): NativeComm {
    if (this.closed) throw new Error('communicator: already closed');
    return this.native;
  }

  /** Run a native collective; a failure says what it most likely means. */
  private run(f: (n: NativeComm) => void): void {
    try {
      f(this.live());
    } catch (e) {
      const msg = (e as Error).message;
      const hint = /closed by peer|Connection reset|Broken pipe|Timed out|timed out/i.test(msg) ? ' (another rank exited, hung or lost the network: the launcher names it)' : '';
      throw new Error(`${msg}${hint}`);
    }
  }

  allReduce(buf: Float32Array | Float64Array, op: ReduceOp = 'sum'): void {
    count(this.stats, 'allReduce', buf.byteLength, this.worldSize);
    this.run((n) => n.allReduce(buf));
    if (op === 'avg') divideBy(buf, this.worldSize);
  }

  reduceScatter(buf: Float32Array, op: ReduceOp = 'sum'): void {
    // a non-power-of-two world all-reduces instead (native/comm/src/comm.cc)
    count(this.stats, (this.worldSize & (this.worldSize - 1)) === 0 ? 'reduceScatter' : 'allReduce', buf.byteLength, this.worldSize);
    this.run((n) => n.reduceScatter(buf));
    const n = buf.length / this.worldSize;
    if (op === 'avg') divideBy(buf, this.worldSize, this.rank * n, (this.rank + 1) * n);
  }

  allGather(shard: CommBuffer, out: CommBuffer): void {
    count(this.stats, 'allGather', out.byteLength, this.worldSize);
    this.run((n) => n.allGather(shard, out));
  }

  broadcast(buf: CommBuffer, root: number): void {
    count(this.stats, 'broadcast', buf.byteLength, this.worldSize);
    this.run((n) => n.broadcast(buf, root));
  }

  barrier(): void {
    this.run((n) => n.barrier());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }
}

/** Rank 0 listens on every interface of the master's address family (the master name may not be bindable as written). */
function wildcardFor(host: string): string {
  return host.includes(':') ? '::' : '0.0.0.0';
}
