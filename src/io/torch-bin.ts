// PyTorch `.bin` state dicts (torch.save, zip format): data.pkl holds the
// structure, data/<key> the raw storages. Only the globals a state dict
// needs are accepted (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter,
// typed storages); anything else is an error, never executed.
import { ZipReader } from './zip.js';
import { unpickle, type PickleValue } from './pickle.js';
import { Tensor, numel } from '../engine/tensor.js';
import { allocStorage, type DType } from '../engine/dtype.js';

interface StorageRef { dtype: string; key: string; numel: number }

const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64', IntStorage: 'I32',
};

function storageTensor(file: string, bytes: Uint8Array, ref: StorageRef): { data: Float32Array | Uint16Array | Int32Array; dtype: DType } {
  const n = ref.numel;
  const need = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4 }[ref.dtype]! * n;
  if (bytes.byteLength < need) throw new Error(`${file}: storage ${ref.key} has ${bytes.byteLength} bytes, needs ${need} (truncated checkpoint?)`);
  const buf = bytes.buffer, off = bytes.byteOffset;
  switch (ref.dtype) {
    case 'F32': return { data: new Float32Array(buf.slice(off, off + need)), dtype: 'f32' };
    case 'F16': return { data: new Uint16Array(buf.slice(off, off + need)), dtype: 'f16' };
    case 'BF16': return { data: new Uint16Array(buf.slice(off, off + need)), dtype: 'bf16' };
    case 'F64': return { data: Float32Array.from(new Float64Array(buf.slice(off, off + need))), dtype: 'f32' };
    case 'I32': return { data: new Int32Array(buf.slice(off, off + need)), dtype: 'i32' };
    default: {
      const src = new BigInt64Array(buf.slice(off, off + need));
      const out = allocStorage('i32', n) as Int32Array;
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return { data: out, dtype: 'i32' };
    }
  }
}

/** Read every tensor of a PyTorch zip checkpoint (a flat state dict). */
export function readTorchBin(file: string): Map<string, Tensor> {
  const zip = new ZipReader(file);
  try {
    const pkl = [...zip.entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
    if (!pkl) throw new Error(`${file}: no data.pkl in the archive (legacy non-zip torch.save files are not supported)`);
    const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
    const storages = new Map<string, ReturnType<typeof storageTensor>>();
    const loadStorage = (ref: StorageRef) => {
      let s = storages.get(ref.key);
      if (!s) {
        s = storageTensor(file, zip.readEntry(`${prefix}data/${ref.key}`), ref);
        storages.set(ref.key, s);
      }
      return s;
    };
    const rebuild = (...args: PickleValue[]): Tensor => {
      const [ref, offset, size, stride] = args as [StorageRef, number, number[], number[]];
      const s = loadStorage(ref);
      const view = new Tensor(s.data, size, s.dtype, stride, offset);
      return view.isContiguous() && offset === 0 && numel(size) === s.data.length ? view : Tensor.fromStorage(view.copyStorage(), size, s.dtype);
    };
    const classes: Record<string, (...a: PickleValue[]) => PickleValue> = {
      'collections.OrderedDict': () => new Map(),
      'torch._utils._rebuild_tensor_v2': rebuild,
      'torch._utils._rebuild_parameter': (data) => data,
    };
    const root = unpickle(zip.readEntry(pkl), {
      findClass(mod, name) {
        const full = `${mod}.${name}`;
        if (classes[full]) return classes[full]!;
        if (mod === 'torch' && STORAGE_DTYPES[name]) return () => STORAGE_DTYPES[name];
        throw new Error(`${file}: checkpoint references ${full}, which a state dict should not need (refusing to load)`);
      },
      persistentLoad(pid) {
        const t = pid as PickleValue[];
        if (!Array.isArray(t) || t[0] !== 'storage') throw new Error(`${file}: unexpected persistent id ${JSON.stringify(pid)}`);
        const dtype = typeof t[1] === 'function' ? (t[1] as () => string)() : String(t[1]);
        return { dtype, key: String(t[2]), numel: Number(t[4]) } satisfies StorageRef;
      },
    }, file);
    if (!(root instanceof Map)) throw new Error(`${file}: the checkpoint is not a state dict`);
    const out = new Map<string, Tensor>();
    for (const [k, v] of root) {
      if (!(v instanceof Tensor)) throw new Error(`${file}: entry '${String(k)}' is not a tensor`);
      out.set(String(k), v);
    }
    return out;
  } finally {
    zip.close();
  }
}

