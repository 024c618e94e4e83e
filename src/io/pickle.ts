// A minimal unpickler for PyTorch state dicts: the opcodes torch.save emits
// (protocols 2-4). Globals are resolved through a caller-supplied table;
// anything else is refused, so a checkpoint can never run code. Malformed
// input (stack underflow, a call on a non-callable, a bad memo reference)
// is an error naming the file and byte, never a TypeError from deep inside.
export type PickleValue = unknown;

export interface PickleHooks {
  /** Resolve `module.name` to a callable (REDUCE) or class; throw for anything unexpected. */
  findClass(module: string, name: string): (...args: PickleValue[]) => PickleValue;
  /** BINPERSID: resolve a persistent id (PyTorch storages). */
  persistentLoad(pid: PickleValue): PickleValue;
}

const MARK = Symbol('mark');

export function unpickle(data: Uint8Array, hooks: PickleHooks, where = 'pickle'): PickleValue {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: PickleValue[] = [];
  const memo = new Map<number, PickleValue>();
  const dec = new TextDecoder('utf-8', { ignoreBOM: true });
  let p = 0;
  const need = (n: number) => { if (p + n > data.length) throw new Error(`${where}: truncated pickle`); };
  const u8 = () => { need(1); return data[p++]!; };
  const u16 = () => { need(2); const v = dv.getUint16(p, true); p += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(p, true); p += 4; return v; };
  const i32 = () => { need(4); const v = dv.getInt32(p, true); p += 4; return v; };
  const str = (n: number) => { need(n); const s = dec.decode(data.subarray(p, p + n)); p += n; return s; };
  const line = () => { const e = data.indexOf(10, p); if (e < 0) throw new Error(`${where}: truncated pickle`); const s = dec.decode(data.subarray(p, e)); p = e + 1; return s; };
  const bad = (msg: string): never => { throw new Error(`${where}: malformed pickle (${msg} at byte ${p - 1})`); };
  const pop = (): PickleValue => (stack.length ? stack.pop() : bad('stack underflow'));
  const top = (): PickleValue => (stack.length ? stack[stack.length - 1] : bad('stack underflow'));
  const list = (v: PickleValue): PickleValue[] => (Array.isArray(v) ? v : bad('APPEND to a non-list'));
  const callable = (v: PickleValue) => (typeof v === 'function' ? (v as (...a: PickleValue[]) => PickleValue) : bad('call of a non-callable'));
  const args = (v: PickleValue): PickleValue[] => (Array.isArray(v) && v.length <= 64 ? v : bad('call arguments are not a short tuple'));
  const get = (k: number): PickleValue => (memo.has(k) ? memo.get(k) : bad(`memo ${k} not set`));
  const popMark = (): PickleValue[] => {
    let i = stack.length - 1;
    while (i >= 0 && stack[i] !== MARK) i--;
    if (i < 0) bad('MARK not found');
    const items = stack.slice(i + 1);
    stack.length = i;
    return items;
  };
  const setItems = (target: PickleValue, items: PickleValue[]) => {
    if (target instanceof Map) for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
    else bad('SETITEMS on a non-dict');
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break;                       // PROTO
      case 0x95: need(8); p += 8; break;            // FRAME
      case 0x2e: return pop();                // STOP
      case 0x28: stack.push(MARK); break;           // MARK
      case 0x7d: stack.push(new Map()); break;      // EMPTY_DICT
      case 0x5d: stack.push([]); break;             // EMPTY_LIST
      case 0x29: stack.push([]); break;             // EMPTY_TUPLE
      case 0x4e: stack.push(null); break;           // NONE
      case 0x88: stack.push(true); break;           // NEWTRUE
      case 0x89: stack.push(false); break;          // NEWFALSE
      case 0x4b: stack.push(u8()); break;           // BININT1
      case 0x4d: stack.push(u16()); break;          // BININT2
      case 0x4a: stack.push(i32()); break;          // BININT
      case 0x8a: {                                  // LONG1
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]!);
        if (n > 0 && data[p + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(Number(v));  // beyond 2^53 loses precision: the tensor checks reject such sizes
        break;
      }
      case 0x47: { need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; }  // BINFLOAT
      case 0x58: stack.push(str(u32())); break;     // BINUNICODE
      case 0x8c: stack.push(str(u8())); break;      // SHORT_BINUNICODE
      case 0x8d: { need(8); const n = Number(dv.getBigUint64(p, true)); p += 8; stack.push(str(n)); break; }  // BINUNICODE8
      case 0x55: stack.push(str(u8())); break;      // SHORT_BINSTRING
      case 0x54: stack.push(str(u32())); break;     // BINSTRING
      case 0x71: memo.set(u8(), top()); break;   // BINPUT
      case 0x72: memo.set(u32(), top()); break;  // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break;  // MEMOIZE
      case 0x68: stack.push(get(u8())); break;  // BINGET
      case 0x6a: stack.push(get(u32())); break; // LONG_BINGET
      case 0x74: stack.push(popMark()); break;       // TUPLE
      case 0x85: stack.push([pop()]); break;   // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; }  // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; }  // TUPLE3
      case 0x6c: stack.push(popMark()); break;       // LIST
      case 0x61: { const v = pop(); list(top()).push(v); break; }  // APPEND
      case 0x65: { const items = popMark(); const l = list(top()); for (const it of items) l.push(it); break; }  // APPENDS
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; }  // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; }  // SETITEMS
      case 0x64: { const items = popMark(); const m = new Map(); setItems(m, items); stack.push(m); break; }  // DICT
      case 0x63: { const mod = line(), name = line(); stack.push(hooks.findClass(mod, name)); break; }  // GLOBAL
      case 0x93: { const name = pop(), mod = pop(); if (typeof name !== 'string' || typeof mod !== 'string') bad('STACK_GLOBAL of non-strings'); stack.push(hooks.findClass(mod as string, name as string)); break; }  // STACK_GLOBAL
      case 0x52: {                                   // REDUCE
        const a = args(pop());
        const fn = callable(pop());
        stack.push(fn(...a));
        break;
      }
      case 0x81: {                                   // NEWOBJ
        const a = args(pop());
        const cls = callable(pop());
        stack.push(cls(...a));
        break;
      }
      case 0x62: pop(); break;                 // BUILD: object state (OrderedDict._metadata) is not needed
      case 0x51: stack.push(hooks.persistentLoad(pop())); break;  // BINPERSID
      default:
        throw new Error(`${where}: unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
  }
}
