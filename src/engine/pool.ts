// The CPU backend's storage pool: storages the op layer gives back with
// backend().free() (kernel scratch, an f32 result once rounded to bf16, a
// gradient the backward pass has consumed) are kept by (dtype, length) and
// handed out again, zero-filled, by the next alloc of that size. Fresh
// memory is expensive here: every 4 KiB page of a new ArrayBuffer faults on
// first touch (several microseconds each in a VM), which cost a training step
// more than all its element-wise kernels together; a reused buffer only needs
// its memset. Only whole storages of at least MIN_BYTES are kept, at most
// CAP_BYTES in all (beyond that a freed storage is left to the GC); a storage
// is never kept twice. What is not freed is reclaimed by the GC as before.
import os from 'node:os';
import { allocStorage, bytesPerElement, type DType, type Storage } from './dtype.js';

const MIN_BYTES = 256 * 1024;
const CAP_BYTES = Math.min(2 ** 31, os.totalmem() / 8);

const lists = new Map<string, Storage[]>();
const pooled = new WeakSet<ArrayBufferLike>();
let heldBytes = 0;

// keyed by the storage kind (bf16 and f16 share Uint16Array) and length
const kindOf = (d: DType) => (d === 'f32' ? 'f' : d === 'i32' ? 'i' : 'h');
const kindOfStorage = (s: Storage) => (s instanceof Float32Array ? 'f' : s instanceof Int32Array ? 'i' : 'h');

/** A zero-filled storage of n elements: a pooled one of that size when there is one, else new memory. */
export function poolAlloc(d: DType, n: number): Storage {
  if (n * bytesPerElement(d) >= MIN_BYTES) {
    const s = lists.get(kindOf(d) + n)?.pop();
    if (s) {
      pooled.delete(s.buffer);
      heldBytes -= s.byteLength;
      s.fill(0);
      return s;
    }
  }
  return allocStorage(d, n);
}

/** Takes back a storage nobody will touch again (the caller's promise). Views and small storages are left to the GC. */
export function poolFree(s: Storage): void {
  if (s.byteLength < MIN_BYTES || s.byteOffset !== 0 || s.byteLength !== s.buffer.byteLength) return;
  if (pooled.has(s.buffer) || heldBytes + s.byteLength > CAP_BYTES) return;
  pooled.add(s.buffer);
  heldBytes += s.byteLength;
  const k = kindOfStorage(s) + s.length;
  const list = lists.get(k);
  if (list) list.push(s);
  else lists.set(k, [s]);
}

/** Bytes held for reuse now (reports and tests). */
export function pooledBytes(): number {
  return heldBytes;
}

/** Drops every pooled storage (to the GC). */
export function clearPool(): void {
  lists.clear();
  heldBytes = 0;
}
