// A small protobuf wire-format reader and writer (varint, 32/64-bit,
// length-delimited), enough for SentencePiece's ModelProto. Fields are kept
// as raw (field number, wire type, value) records so unknown fields survive a
// read-modify-write round trip.
export interface PbField {
  no: number;
  wire: 0 | 1 | 2 | 5;
  /** varint: number (or bigint above 2^53); fixed32/fixed64: raw bytes; length-delimited: bytes. */
  value: number | bigint | Uint8Array;
}

export function decodeMessage(buf: Uint8Array, where: string): PbField[] {
  const out: PbField[] = [];
  let p = 0;
  const varint = (): number | bigint => {
    // numbers are exact below 2^53; longer varints (negative int64s) go through BigInt
    let result = 0, mul = 1;
    const begin = p;
    for (let i = 0; i < 7; i++) {
      if (p >= buf.length) throw new Error(`${where}: truncated varint`);
      const b = buf[p++]!;
      result += (b & 0x7f) * mul;
      if (!(b & 0x80)) return result;
      mul *= 128;
    }
    p = begin;
    let big = 0n, shift = 0n;
    for (;;) {
      if (p >= buf.length) throw new Error(`${where}: truncated varint`);
      const b = buf[p++]!;
      big |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
      shift += 7n;
      if (shift > 70n) throw new Error(`${where}: varint too long`);
    }
    return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  };
  while (p < buf.length) {
    const key = Number(varint());
    const no = Math.floor(key / 8), wire = key % 8;
    switch (wire) {
      case 0: out.push({ no, wire, value: varint() }); break;
      case 1: if (p + 8 > buf.length) throw new Error(`${where}: truncated fixed64`); out.push({ no, wire, value: buf.subarray(p, p + 8) }); p += 8; break;
      case 5: if (p + 4 > buf.length) throw new Error(`${where}: truncated fixed32`); out.push({ no, wire, value: buf.subarray(p, p + 4) }); p += 4; break;
      case 2: {
        const n = Number(varint());
        if (p + n > buf.length) throw new Error(`${where}: truncated field ${no} (${n} bytes)`);
        out.push({ no, wire, value: buf.subarray(p, p + n) });
        p += n;
        break;
      }
      default: throw new Error(`${where}: unsupported wire type ${wire} (corrupt file?)`);
    }
  }
  return out;
}

export class PbWriter {
  private chunks: number[] = [];
  private varint(v: number | bigint): void {
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x) b |= 0x80;
      this.chunks.push(b);
    } while (x);
  }
  private key(no: number, wire: number): void { this.varint((no << 3) | wire); }
  uint(no: number, v: number | bigint | boolean): this { this.key(no, 0); this.varint(typeof v === 'boolean' ? (v ? 1 : 0) : v); return this; }
  float(no: number, v: number): this {
    this.key(no, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.chunks.push(...b);
    return this;
  }
  bytes(no: number, v: Uint8Array): this { this.key(no, 2); this.varint(v.length); for (const b of v) this.chunks.push(b); return this; }
  string(no: number, s: string): this { return this.bytes(no, new TextEncoder().encode(s)); }
  raw(f: PbField): this {
    if (f.wire === 0) return this.uint(f.no, f.value as number | bigint);
    if (f.wire === 2) return this.bytes(f.no, f.value as Uint8Array);
    this.key(f.no, f.wire);
    for (const b of f.value as Uint8Array) this.chunks.push(b);
    return this;
  }
  finish(): Uint8Array { return Uint8Array.from(this.chunks); }
}

export function fieldFloat(f: PbField): number {
  const b = f.value as Uint8Array;
  return new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
}

// ignoreBOM: a piece may be U+FEFF itself, which a default TextDecoder would strip.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

export function fieldString(f: PbField): string {
  return utf8.decode(f.value as Uint8Array);
}
