// Mutation fuzzing helpers (fast-check): random edits of a valid file's bytes
// (bit flips, boundary bytes, boundary 32/64-bit integers, inserted, deleted,
// duplicated ranges, truncation), and the property every parser of untrusted
// files must hold: it returns, or throws an Error whose message names the file.
// Never a TypeError from inside, a RangeError from an allocation, a hang, or an
// allocation far beyond the file's size.
// Case count: BAICHUAN2_FUZZ_RUNS (default: a short run for the suite).
import fc from 'fast-check';

export const RUNS = Math.max(1, Number(process.env.BAICHUAN2_FUZZ_RUNS ?? 150) | 0);
// The suite's short run uses a fixed seed, so CI is reproducible; a long run (BAICHUAN2_FUZZ_RUNS set)
// draws a fresh seed each time unless BAICHUAN2_FUZZ_SEED replays one.
export const SEED = process.env.BAICHUAN2_FUZZ_SEED !== undefined ? Number(process.env.BAICHUAN2_FUZZ_SEED)
  : process.env.BAICHUAN2_FUZZ_RUNS === undefined ? 20261201 : undefined;

type Edit =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'set'; at: number; v: number }
  | { k: 'int'; at: number; v: number; width: 4 | 8 }
  | { k: 'insert'; at: number; bytes: Uint8Array }
  | { k: 'delete'; at: number; n: number }
  | { k: 'dup'; at: number; n: number; to: number }
  | { k: 'truncate'; at: number };

const BOUNDARY_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x5c];
const BOUNDARY_INTS = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

const pos = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at: pos, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant('set' as const), at: pos, v: fc.oneof(fc.constantFrom(...BOUNDARY_BYTES), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ k: fc.constant('int' as const), at: pos, v: fc.constantFrom(...BOUNDARY_INTS), width: fc.constantFrom(4 as const, 8 as const) }),
  fc.record({ k: fc.constant('insert' as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ k: fc.constant('delete' as const), at: pos, n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ k: fc.constant('dup' as const), at: pos, n: fc.integer({ min: 1, max: 64 }), to: pos }),
  fc.record({ k: fc.constant('truncate' as const), at: pos }),
);

function apply(buf: Buffer, e: Edit): Buffer {
  if (!buf.length) return e.k === 'insert' ? Buffer.from(e.bytes) : buf;
  const at = Math.floor(e.at * buf.length);
  switch (e.k) {
    case 'flip': { const b = Buffer.from(buf); b[at] = b[at]! ^ (1 << e.bit); return b; }
    case 'set': { const b = Buffer.from(buf); b[at] = e.v; return b; }
    case 'int': {
      const b = Buffer.from(buf);
      const w = Buffer.alloc(e.width);
      if (e.width === 4) w.writeUInt32LE(e.v); else w.writeBigUInt64LE(BigInt(e.v) * (e.v >= 0x80000000 ? 0x100000001n : 1n));
      w.copy(b, at, 0, Math.min(e.width, b.length - at));
      return b;
    }
    case 'insert': return Buffer.concat([buf.subarray(0, at), e.bytes, buf.subarray(at)]);
    case 'delete': return Buffer.concat([buf.subarray(0, at), buf.subarray(at + e.n)]);
    case 'dup': { const to = Math.floor(e.to * buf.length); return Buffer.concat([buf.subarray(0, to), buf.subarray(at, at + e.n), buf.subarray(to)]); }
    case 'truncate': return buf.subarray(0, at);
  }
}

/** An arbitrary mutated copy of `valid` (1 to `maxEdits` edits; mostly one, so the parsers' deeper checks are reached too). */
export function mutated(valid: Buffer, maxEdits = 4): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 3, arbitrary: edit.map((e) => apply(valid, e)) },
    { weight: 1, arbitrary: fc.array(edit, { minLength: 2, maxLength: maxEdits }).map((edits) => edits.reduce(apply, valid)) },
  );
}

const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -1, 1, 0.5, -0.0, 1e300, -1e300, 2 ** 31, 2 ** 32 + 5, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, null, true, false, '', 'rope', 'alibi', '../../etc/passwd', '/etc/passwd', [], {}, [1e300, 0]),
  fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.array(fc.integer(), { maxLength: 3 }),
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Structure-aware edits of a JSON document: replace, delete or add a value at a random place (then serialised). */
export function jsonMutated(valid: Json): fc.Arbitrary<Buffer> {
  const paths: (string | number)[][] = [];
  const walk = (v: Json, p: (string | number)[]) => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(valid, []);
  const one = fc.record({ at: fc.constantFrom(...paths), op: fc.constantFrom('set', 'delete', 'add'), v: weird, key: fc.constantFrom('extra', '__proto__', 'constructor', 'text') });
  return fc.array(one, { minLength: 1, maxLength: 3 }).map((ops) => {
    let doc = JSON.parse(JSON.stringify(valid)) as Json;
    for (const { at, op, v, key } of ops) {
      if (!at.length) { if (op === 'set') doc = v as Json; continue; }
      let parent: any = doc;
      for (const k of at.slice(0, -1)) { parent = parent?.[k]; if (parent === null || typeof parent !== 'object') break; }
      if (parent === null || typeof parent !== 'object') continue;
      const last = at[at.length - 1]!;
      if (op === 'set') parent[last] = v;
      else if (op === 'delete') { if (Array.isArray(parent)) parent.splice(Number(last), 1); else delete parent[last]; }
      else if (Array.isArray(parent)) parent.push(v); else Object.defineProperty(parent, key, { value: v, enumerable: true, configurable: true, writable: true });
    }
    return Buffer.from(JSON.stringify(doc));
  });
}

export interface FuzzStats { cases: number; accepted: number; rejected: number }

/**
 * The property: `parse` returns, or throws an Error naming `name`. An Error
 * that does not name the file, or an engine error (TypeError, an allocation's
 * RangeError) is a crash. ArrayBuffer memory held after the call must stay
 * within `slack` bytes plus 8x the input.
 */
export async function checkParse(name: string, input: Buffer, parse: () => unknown | Promise<unknown>, stats: FuzzStats, slack = 64 << 20): Promise<void> {
  stats.cases++;
  const before = process.memoryUsage().arrayBuffers;
  try {
    await parse();
    stats.accepted++;
  } catch (e) {
    const err = e as Error;
    const msg = `${err?.name}: ${err?.message}`;
    if (!(err instanceof Error)) throw new Error(`crash: threw a non-Error ${String(e)}`);
    // an engine error escaping unwrapped (a TypeError, a failed allocation, a stack overflow) is a crash
    if (/^(TypeError|ReferenceError|InternalError)$/.test(err.name) || (!err.message.includes(name) && /Cannot read properties|is not a function|allocation failed|Invalid typed array length|Maximum call stack/.test(err.message)))
      throw new Error(`crash: ${msg}\n${err.stack}`);
    if (!err.message.includes(name)) throw new Error(`error does not name the file ${name}: ${msg}\n${err.stack}`);
    stats.rejected++;
  }
  const grew = process.memoryUsage().arrayBuffers - before;
  if (grew > slack + 8 * input.length) throw new Error(`allocated ${grew} bytes of ArrayBuffer memory for a ${input.length}-byte input`);
}

export function fcParams(runs = RUNS): fc.Parameters<[Buffer]> {
  return { numRuns: runs, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true };
}

/** fc.assert, with the parser's own error (not the whole counterexample) in the failure message. */
export async function fuzz<T extends unknown[]>(prop: fc.IAsyncProperty<T>, params: fc.Parameters<T>): Promise<void> {
  const r = await fc.check(prop, params);
  if (!r.failed) return;
  const err = r.errorInstance as Error | undefined;
  const bytes = r.counterexample?.[0];
  const sample = Buffer.isBuffer(bytes) ? ` (counterexample: ${bytes.length} bytes, starting ${bytes.subarray(0, 48).toString('hex')}; seed ${r.seed}, path ${r.counterexamplePath})` : ` (seed ${r.seed})`;
  throw new Error(`${err?.message ?? 'property failed'}${sample}`);
}
