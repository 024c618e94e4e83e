// A minimal ZIP reader for PyTorch checkpoints (torch.save writes an
// uncompressed zip, zip64 for large files). Reads the central directory, then
// entries on demand straight from the file descriptor: a stored entry's bytes
// can be read in any sub-range (one tensor of a storage), a deflated entry is
// inflated with an output limit of its declared size. Every offset and size
// from the archive is checked against the file before anything is allocated,
// so a corrupt or hostile file gives an error naming it, never a huge buffer.
import fs from 'node:fs';
import zlib from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Deflate cannot expand more than ~1032:1; a declared size beyond that is a lie (a zip bomb or corruption). */
const MAX_DEFLATE_RATIO = 1032;

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly fd: number;
  readonly size: number;
  private readonly starts = new Map<string, number>();

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'r');
    try {
      this.size = fs.fstatSync(this.fd).size;
      this.readDirectory();
    } catch (e) {
      fs.closeSync(this.fd);
      throw e;
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private fail(msg: string): never {
    throw new Error(`${this.file}: ${msg}`);
  }

  /** Bytes [pos, pos + n) of the file, bounds checked before the buffer is allocated. */
  private read(pos: number, n: number, into?: Uint8Array): Uint8Array {
    if (!(Number.isSafeInteger(pos) && Number.isSafeInteger(n) && pos >= 0 && n >= 0 && pos + n <= this.size))
      this.fail(`truncated or corrupt zip (needs bytes ${pos}..${pos + n} of ${this.size})`);
    const b = into ?? Buffer.alloc(n);
    let done = 0;
    while (done < n) {
      const r = fs.readSync(this.fd, b, done, Math.min(n - done, 1 << 30), pos + done);
      if (r <= 0) this.fail('unexpected end of file');
      done += r;
    }
    return b;
  }

  private readDirectory(): void {
    const tail = Math.min(this.size, 65557);
    if (tail < 22) this.fail(`not a zip archive (${this.size} bytes): a PyTorch .bin must be a zip; is the file truncated?`);
    const buf = Buffer.from(this.read(this.size - tail, tail));
    let eocd = -1;
    for (let i = buf.length - 22; i >= 0; i--) if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
    if (eocd < 0) this.fail('not a zip archive (no end-of-central-directory record): a PyTorch .bin must be a zip; is the file truncated?');
    let count = buf.readUInt16LE(eocd + 10);
    let cdSize = buf.readUInt32LE(eocd + 12);
    let cdOffset = buf.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || count === 0xffff || cdSize === 0xffffffff) {
      // zip64: the locator sits 20 bytes before the EOCD
      const loc = eocd - 20;
      if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) this.fail('zip64 locator missing');
      const rec = Number(buf.readBigUInt64LE(loc + 8));
      const z = Buffer.from(this.read(rec, 56));
      if (z.readUInt32LE(0) !== 0x06064b50) this.fail('zip64 end record missing');
      count = Number(z.readBigUInt64LE(32));
      cdSize = Number(z.readBigUInt64LE(40));
      cdOffset = Number(z.readBigUInt64LE(48));
    }
    // each central record is at least 46 bytes: a count the directory cannot hold is corruption
    if (count * 46 > cdSize) this.fail(`corrupt zip directory (${count} entries cannot fit in ${cdSize} bytes)`);
    const cd = Buffer.from(this.read(cdOffset, cdSize));
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) this.fail('corrupt zip central directory');
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28), extraLen = cd.readUInt16LE(p + 30), commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) this.fail('corrupt zip central directory (record overruns it)');
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // zip64 extra field: the 64-bit values of whichever fields were 0xFFFFFFFF, in order
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = cd.readUInt16LE(e), len = cd.readUInt16LE(e + 2);
        if (e + 4 + len > eEnd) this.fail(`corrupt zip extra field of '${name}'`);
        if (id === 0x0001) {
          let q = e + 4;
          const take = () => {
            if (q + 8 > e + 4 + len) this.fail(`corrupt zip64 field of '${name}'`);
            const v = Number(cd.readBigUInt64LE(q));
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
        }
        e += 4 + len;
      }
      if (!(localHeaderOffset + 30 + compressedSize <= this.size)) this.fail(`zip entry '${name}' lies outside the file (${compressedSize} bytes at ${localHeaderOffset}; the file is ${this.size}): truncated?`);
      if (method === 0 && size !== compressedSize) this.fail(`zip entry '${name}' is stored but its sizes disagree (${size} vs ${compressedSize})`);
      if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024) this.fail(`zip entry '${name}' claims ${size} bytes from ${compressedSize} compressed: not possible for deflate (corrupt)`);
      if (method !== 0 && method !== 8) this.fail(`entry '${name}' uses unsupported compression method ${method}`);
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = eEnd + commentLen;
    }
  }

  private entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) this.fail(`zip has no entry '${name}'`);
    return e;
  }

  /** Where an entry's (stored or compressed) bytes begin, from its local header. */
  dataStart(name: string): number {
    let s = this.starts.get(name);
    if (s === undefined) {
      const e = this.entry(name);
      const h = Buffer.from(this.read(e.localHeaderOffset, 30));
      if (h.readUInt32LE(0) !== 0x04034b50) this.fail(`corrupt local header of '${name}'`);
      s = e.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
      if (s + e.compressedSize > this.size) this.fail(`zip entry '${name}' lies outside the file: truncated?`);
      this.starts.set(name, s);
    }
    return s;
  }

  /** The bytes of one entry (a fresh buffer of exactly its size); `maxBytes` refuses a larger one before reading. */
  readEntry(name: string, maxBytes = Infinity): Uint8Array {
    const e = this.entry(name);
    if (e.size > maxBytes) this.fail(`zip entry '${name}' is ${e.size} bytes, more than the ${maxBytes} allowed`);
    return this.readRange(name, 0, e.size);
  }

  /** Bytes [offset, offset + n) of an entry's uncompressed contents, into `into` when given (else a fresh exact buffer). */
  readRange(name: string, offset: number, n: number, into?: Uint8Array): Uint8Array {
    const e = this.entry(name);
    if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(n) && offset >= 0 && n >= 0 && offset + n <= e.size))
      this.fail(`zip entry '${name}' has ${e.size} bytes; bytes ${offset}..${offset + n} were asked for (corrupt checkpoint?)`);
    if (into && into.byteLength < n) throw new RangeError(`readRange: buffer of ${into.byteLength} bytes for ${n}`);
    const start = this.dataStart(name);
    const out = into ? into.subarray(0, n) : new Uint8Array(new ArrayBuffer(n));
    if (e.method === 0) {
      this.read(start + offset, n, out);
      return out;
    }
    let inflated: Buffer;
    try {
      inflated = zlib.inflateRawSync(this.read(start, e.compressedSize), { maxOutputLength: Math.max(e.size, 1) });
    } catch (err) {
      this.fail(`zip entry '${name}' does not inflate (${(err as Error).message})`);
    }
    if (inflated.length !== e.size) this.fail(`zip entry '${name}' inflates to ${inflated.length} bytes, the directory says ${e.size}`);
    out.set(inflated.subarray(offset, offset + n));
    return out;
  }
}
