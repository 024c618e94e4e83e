// PyTorch `.bin` state dicts (torch.save, zip format): data.pkl holds the
// structure, data/<key> the raw storages. Only the globals a state dict
// needs are accepted (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter,
// typed storages); anything else is an error, never executed.
// Listing reads only data.pkl: each tensor becomes a lazy source (storage key,
// dtype, shape, strides, offset), and reading it reads only that tensor's
// bytes of its storage, straight from the file into the tensor's own buffer
// (a stored entry at its offset; a deflated one is inflated, bounded by its
// declared size). Every size and offset from the pickle is checked against
// the storage and the archive before anything is allocated.
import fs from 'node:fs';
import { ZipReader } from './zip.js';
import { unpickle, type PickleValue } from './pickle.js';
import { Tensor, contiguousStrides, numel, shapeStr } from '../engine/tensor.js';
import { ELEM_BYTES, decodeTensor, rowBytes, rowRange, type TensorSource } from './tensor-source.js';

interface StorageRef { dtype: string; key: string; numel: number }

const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64', IntStorage: 'I32',
  ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/** data.pkl of a state dict is small (about 100 KB for 13B); anything huge is not one. */
const MAX_PICKLE_BYTES = 256 * 2 ** 20;

/** What _rebuild_tensor_v2 gives back while listing: a view of a storage, not yet read. */
class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly strides: number[]) {}
}

const isDim = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function describe(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 80) ?? String(v);
  } catch {
    return typeof v;
  }
}

/** Parse data.pkl into {name -> TensorRef}. */
function parseStateDict(file: string, zip: ZipReader): { prefix: string; refs: [string, TensorRef][] } {
  const pkl = [...zip.entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pkl) throw new Error(`${file}: no data.pkl in the archive (legacy non-zip torch.save files are not supported)`);
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const rebuild = (...args: PickleValue[]): TensorRef => {
    const [ref, offset, size, stride] = args;
    if (!(ref && typeof ref === 'object' && 'key' in ref)) throw new Error(`${file}: _rebuild_tensor_v2 without a storage`);
    if (!isDim(offset) || !Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length || size.length > 16 || !size.every(isDim) || !stride.every(isDim))
      throw new Error(`${file}: a tensor has a malformed view (offset ${describe(offset)}, size ${describe(size)}, stride ${describe(stride)})`);
    return new TensorRef(ref as StorageRef, offset, size as number[], stride as number[]);
  };
  const classes: Record<string, (...a: PickleValue[]) => PickleValue> = {
    'collections.OrderedDict': () => new Map(),
    'torch._utils._rebuild_tensor_v2': rebuild,
    'torch._utils._rebuild_parameter': (data) => data,
  };
  const root = unpickle(zip.readEntry(pkl, MAX_PICKLE_BYTES), {
    findClass(mod, name) {
      const full = `${mod}.${name}`;
      if (classes[full]) return classes[full]!;
      if (mod === 'torch' && STORAGE_DTYPES[name]) return () => STORAGE_DTYPES[name];
      throw new Error(`${file}: checkpoint references ${full}, which a state dict should not need (refusing to load)`);
    },
    persistentLoad(pid) {
      const t = pid as PickleValue[];
      if (!Array.isArray(t) || t[0] !== 'storage' || t.length < 5) throw new Error(`${file}: unexpected persistent id ${describe(pid)}`);
      const dtype = typeof t[1] === 'function' ? String((t[1] as () => string)()) : String(t[1]);
      if (ELEM_BYTES[dtype] === undefined) throw new Error(`${file}: storage of unknown type ${describe(t[1])}`);
      if (!isDim(t[4])) throw new Error(`${file}: storage ${describe(t[2])} has a malformed size ${describe(t[4])}`);
      return { dtype, key: String(t[2]), numel: t[4] } satisfies StorageRef;
    },
  }, file);
  if (!(root instanceof Map)) throw new Error(`${file}: the checkpoint is not a state dict`);
  const refs: [string, TensorRef][] = [];
  for (const [k, v] of root) {
    if (!(v instanceof TensorRef)) throw new Error(`${file}: entry '${String(k)}' is not a tensor`);
    refs.push([String(k), v]);
  }
  return { prefix, refs };
}

/** Copy a strided view (element size eb) out of `raw` (which starts at storage element `base`) into contiguous bytes. */
function gather(raw: Uint8Array, base: number, eb: number, offset: number, shape: number[], strides: number[]): Uint8Array {
  const n = numel(shape);
  const out = new Uint8Array(new ArrayBuffer(n * eb));
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  for (let k = 0; k < n; k++) {
    let e = offset - base;
    for (let d = 0; d < nd; d++) e += idx[d]! * strides[d]!;
    out.set(raw.subarray(e * eb, e * eb + eb), k * eb);
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** The tensors of one PyTorch zip checkpoint as lazy sources (reads only data.pkl and the zip directory). */
export function listTorchBin(file: string): TensorSource[] {
  const zip = new ZipReader(file);
  try {
    const { prefix, refs } = parseStateDict(file, zip);
    const fileSize = zip.size;
    return refs.map(([name, r]) => {
      const where = `${file}: tensor '${name}'`;
      const entry = `${prefix}data/${r.storage.key}`;
      const e = zip.entries.get(entry);
      if (!e) throw new Error(`${where}: its storage ${entry} is missing from the archive (truncated checkpoint?)`);
      const eb = ELEM_BYTES[r.storage.dtype]!;
      const n = numel(r.shape);
      let extent = r.offset;  // last element the view touches, +1
      for (let d = 0; d < r.shape.length; d++) extent += (r.shape[d]! - 1) * r.strides[d]!;
      if (n > 0 && !(extent + 1 <= r.storage.numel && r.storage.numel * eb <= e.size))
        throw new Error(`${where} ${shapeStr(r.shape)} at offset ${r.offset} needs ${extent + 1} ${r.storage.dtype} elements; its storage holds ${Math.min(r.storage.numel, Math.floor(e.size / eb))} (corrupt or truncated checkpoint)`);
      const cs = contiguousStrides(r.shape);
      const contiguous = r.shape.every((d, i) => d === 1 || r.strides[i] === cs[i]);
      const start = e.method === 0 ? zip.dataStart(entry) : -1;
      const src: TensorSource = {
        name, file, shape: r.shape, dtype: r.storage.dtype, bytes: n * eb,
        readBytes(r0?: number, r1?: number, into?: Uint8Array): Uint8Array {
          const [a, b] = rowRange(src, r0, r1);
          const rows = r.shape.length ? b - a : 1;
          const rowElems = r.shape.length ? rowBytes(src) / eb : n;
          const len = rows * rowElems * eb;
          if (into && into.byteLength < len) throw new RangeError(`readBytes: buffer of ${into.byteLength} bytes for ${len}`);
          if (contiguous) {
            const at = (r.offset + a * rowElems) * eb;
            if (start >= 0) return readAt(file, fileSize, start + at, len, into);
            const z = new ZipReader(file);
            try { return z.readRange(entry, at, len, into); } finally { z.close(); }
          }
          // a strided view (rare in state dicts): read the span it covers, then gather
          const view = r.shape.length ? { offset: r.offset + a * r.strides[0]!, shape: [b - a, ...r.shape.slice(1)] } : { offset: r.offset, shape: r.shape };
          let last = view.offset;
          for (let d = 0; d < view.shape.length; d++) last += (view.shape[d]! - 1) * r.strides[d]!;
          const z = new ZipReader(file);
          let span: Uint8Array;
          try { span = z.readRange(entry, view.offset * eb, (last + 1 - view.offset) * eb); } finally { z.close(); }
          const out = gather(span, view.offset, eb, view.offset, view.shape, r.strides);
          if (into) { into.set(out); return into.subarray(0, len); }
          return out;
        },
      };
      return src;
    });
  } finally {
    zip.close();
  }
}

function readAt(file: string, size: number, pos: number, n: number, into?: Uint8Array): Uint8Array {
  const out = into ? into.subarray(0, n) : new Uint8Array(new ArrayBuffer(n));
  const fd = fs.openSync(file, 'r');
  try {
    if (fs.fstatSync(fd).size !== size) throw new Error(`${file}: the file changed size since it was listed`);
    let done = 0;
    while (done < n) {
      const r = fs.readSync(fd, out, done, Math.min(n - done, 1 << 30), pos + done);
      if (r <= 0) throw new Error(`${file}: unexpected end of file (truncated checkpoint?)`);
      done += r;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** Read every tensor of a PyTorch zip checkpoint (a flat state dict), one read per tensor. */
export function readTorchBin(file: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const s of listTorchBin(file)) out.set(s.name, decodeTensor(`${file}: tensor '${s.name}'`, s.dtype, s.shape, s.readBytes()));
  return out;
}
