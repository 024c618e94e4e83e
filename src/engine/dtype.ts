// Element types and their storage. bf16 and f16 are stored as raw 16-bit
// patterns in Uint16Array; arithmetic on them happens in f32 and the result
// is rounded back (round-to-nearest-even), which is what PyTorch's CPU
// kernels do for reduced-precision tensors.

export type DType = 'f32' | 'bf16' | 'f16' | 'i32';
export type Storage = Float32Array | Uint16Array | Int32Array;

export const DTYPES: readonly DType[] = ['f32', 'bf16', 'f16', 'i32'];

export function isFloat(d: DType): boolean {
  return d !== 'i32';
}

export function bytesPerElement(d: DType): number {
  return d === 'f32' || d === 'i32' ? 4 : 2;
}

export function allocStorage(d: DType, n: number): Storage {
  switch (d) {
    case 'f32': return new Float32Array(n);
    case 'i32': return new Int32Array(n);
    case 'bf16':
    case 'f16': return new Uint16Array(n);
  }
}

export function checkDType(d: string, where: string): DType {
  if (!(DTYPES as readonly string[]).includes(d)) throw new TypeError(`${where}: unknown dtype '${d}' (expected one of ${DTYPES.join(', ')})`);
  return d as DType;
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export function bf16ToF32(h: number): number {
  u32buf[0] = h << 16;
  return f32buf[0]!;
}

/** Round-to-nearest-even, NaN stays NaN (same rule as c10::BFloat16). */
export function f32ToBf16(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Round a number to the nearest bf16 value, returned as a number. */
export function roundBf16(x: number): number {
  return bf16ToF32(f32ToBf16(x));
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** IEEE half, round-to-nearest-even, overflow to infinity. */
export function f32ToF16(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** Read element i of a storage of dtype d as a JS number. */
export function readElement(d: DType, s: Storage, i: number): number {
  const v = s[i]!;
  if (d === 'bf16') return bf16ToF32(v);
  if (d === 'f16') return f16ToF32(v);
  return v;
}

/** Encode a JS number for storage of dtype d (rounding as the dtype requires). */
export function encodeElement(d: DType, x: number): number {
  if (d === 'bf16') return f32ToBf16(x);
  if (d === 'f16') return f32ToF16(x);
  if (d === 'i32') {
    if (!Number.isInteger(x)) throw new TypeError(`i32 tensor: ${x} is not an integer`);
    // refuse rather than let the Int32Array store wrap it (4294967301 would become 5)
    if (x < -0x80000000 || x > 0x7fffffff) throw new RangeError(`i32 tensor: ${x} does not fit in 32 bits`);
    return x;
  }
  return x;
}
