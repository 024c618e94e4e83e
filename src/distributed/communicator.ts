// The communicator: the one interface every data-parallel code path talks to
// (src/train/parallel.ts), whatever carries the bytes. Its operations are
// the usual collectives of MPI / NCCL / Gloo, with NCCL's names and buffer
// conventions (in-place all-reduce, reduce-scatter into the rank's own
// equal shard, all-gather of equal shards in rank order), so that an NCCL
// communicator over device memory can implement it unchanged
// (docs/DISTRIBUTED.md, "Adding NCCL"). Implementations: LocalCommunicator
// (one rank, no library) here; GlooCommunicator (CPU ranks over Gloo's TCP
// transport) in gloo.ts.
//
// Calls are collective: every rank makes the same calls in the same order
// with buffers of the same length, and they block until done. They are
// synchronous because the trainer's step is (forward, backward and the
// kernels run on the main thread); connecting, which may wait for minutes
// while other ranks load, is asynchronous. Every implementation must end a
// call whose peer died with an error (Gloo: at once when the peer's sockets
// close, or at the timeout), never hang.

/** A rank's place in the job (read from the environment by env.ts). */
export interface DistEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  master?: { host: string; port: number };
  rendezvousDir?: string;
  timeoutMs: number;
  bindHost?: string;
  iface?: string;
  runId: string;
}

export type ReduceOp = 'sum' | 'avg';
export type CommBuffer = Float32Array | Float64Array | Uint16Array | Int32Array | Uint8Array;

/** Payload counters, for the benchmark's bytes-per-step (see bytesOnWire). */
export interface CommStats {
  calls: number;
  /** Bytes of the buffers handed to collectives (the logical payload). */
  payloadBytes: number;
  /** Bytes this rank sends, by the textbook cost of ring/halving-doubling algorithms (bytesOnWire). */
  sentBytes: number;
}

export interface Communicator {
  readonly rank: number;
  readonly worldSize: number;
  /** 'local', 'gloo', later 'nccl'. */
  readonly backend: string;
  readonly stats: CommStats;
  /** Element-wise reduction over ranks, in place. */
  allReduce(buf: Float32Array | Float64Array, op?: ReduceOp): void;
  /**
   * `buf.length` is a multiple of worldSize; rank r's shard of the reduction
   * lands in buf[r n / W, (r + 1) n / W); the rest of buf is left unspecified.
   */
  reduceScatter(buf: Float32Array, op?: ReduceOp): void;
  /** out.length = worldSize x shard.length; rank r's shard goes to out[r s, (r + 1) s). */
  allGather(shard: CommBuffer, out: CommBuffer): void;
  /** Every rank's `buf` becomes `root`'s. */
  broadcast(buf: CommBuffer, root: number): void;
  barrier(): void;
  close(): void;
}

export type Collective = 'allReduce' | 'reduceScatter' | 'allGather' | 'broadcast';

/**
 * Bytes one rank sends for a collective over `bytes` of payload (for
 * allGather: of the output), by the standard bandwidth-optimal algorithms:
 * ring all-reduce 2 (W-1)/W n, reduce-scatter and all-gather (W-1)/W n,
 * broadcast n (pipelined). This is what NCCL and Gloo's ring / halving-doubling
 * send; it is an accounting, not a packet count.
 */
export function bytesOnWire(op: Collective, bytes: number, world: number): number {
  if (world <= 1) return 0;
  const f = (world - 1) / world;
  return op === 'allReduce' ? 2 * f * bytes : op === 'broadcast' ? bytes : f * bytes;
}

export function newStats(): CommStats {
  return { calls: 0, payloadBytes: 0, sentBytes: 0 };
}

export function count(stats: CommStats, op: Collective, bytes: number, world: number): void {
  stats.calls++;
  stats.payloadBytes += bytes;
  stats.sentBytes += bytesOnWire(op, bytes, world);
}

/** A world of one: every collective is the identity (avg divides by 1). The trainer's path without a library. */
export class LocalCommunicator implements Communicator {
  readonly rank = 0;
  readonly worldSize = 1;
  readonly backend = 'local';
  readonly stats = newStats();
  allReduce(_buf: Float32Array | Float64Array, _op?: ReduceOp): void {}
  reduceScatter(_buf: Float32Array, _op?: ReduceOp): void {}
  allGather(shard: CommBuffer, out: CommBuffer): void {
    if (out.length !== shard.length) throw new RangeError(`allGather: output has ${out.length} elements, expected ${shard.length}`);
    if (out !== shard) (out as Uint8Array).set(shard as Uint8Array);
  }
  broadcast(_buf: CommBuffer, root: number): void {
    if (root !== 0) throw new RangeError(`broadcast: root ${root} is outside a world of 1`);
  }
  barrier(): void {}
  close(): void {}
}

/** Divide the first `n` elements (or all) by the world size: the 'avg' of a sum, correctly rounded. */
export function divideBy(buf: Float32Array | Float64Array, world: number, from = 0, to = buf.length): void {
  if (world === 1) return;
  for (let i = from; i < to; i++) buf[i] = buf[i]! / world;
}
