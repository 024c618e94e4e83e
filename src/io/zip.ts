// A minimal ZIP reader for PyTorch checkpoints (torch.save writes an
// uncompressed zip, zip64 for large files). Reads the central directory, then
// entries on demand (stored or deflated), straight from the file descriptor.
import fs from 'node:fs';
import zlib from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly fd: number;
  private readonly size: number;

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

  private read(pos: number, n: number): Buffer {
    if (pos < 0 || pos + n > this.size) throw new Error(`${this.file}: truncated zip (needs bytes ${pos}..${pos + n} of ${this.size})`);
    const b = Buffer.alloc(n);
    let done = 0;
    while (done < n) {
      const r = fs.readSync(this.fd, b, done, Math.min(n - done, 1 << 30), pos + done);
      if (r <= 0) throw new Error(`${this.file}: unexpected end of file`);
      done += r;
    }
    return b;
  }

  private readDirectory(): void {
    const tail = Math.min(this.size, 65557);
    const buf = this.read(this.size - tail, tail);
    let eocd = -1;
    for (let i = buf.length - 22; i >= 0; i--) if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
    if (eocd < 0) throw new Error(`${this.file}: not a zip archive (no end-of-central-directory record): a PyTorch .bin must be a zip; is the file truncated?`);
    let count = buf.readUInt16LE(eocd + 10);
    let cdSize = buf.readUInt32LE(eocd + 12);
    let cdOffset = buf.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || count === 0xffff) {
      // zip64: the locator sits 20 bytes before the EOCD
      const loc = eocd - 20;
      if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) throw new Error(`${this.file}: zip64 locator missing`);
      const rec = Number(buf.readBigUInt64LE(loc + 8));
      const z = this.read(rec, 56);
      if (z.readUInt32LE(0) !== 0x06064b50) throw new Error(`${this.file}: zip64 end record missing`);
      count = Number(z.readBigUInt64LE(32));
      cdSize = Number(z.readBigUInt64LE(40));
      cdOffset = Number(z.readBigUInt64LE(48));
    }
    const cd = this.read(cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${this.file}: corrupt zip central directory`);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28), extraLen = cd.readUInt16LE(p + 30), commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // zip64 extra field: the 64-bit values of whichever fields were 0xFFFFFFFF, in order
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = cd.readUInt16LE(e), len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) { size = Number(cd.readBigUInt64LE(q)); q += 8; }
          if (compressedSize === 0xffffffff) { compressedSize = Number(cd.readBigUInt64LE(q)); q += 8; }
          if (localHeaderOffset === 0xffffffff) { localHeaderOffset = Number(cd.readBigUInt64LE(q)); }
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = eEnd + commentLen;
    }
  }

  /** The bytes of one entry (a fresh buffer). */
  readEntry(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.file}: zip has no entry '${name}'`);
    const h = this.read(e.localHeaderOffset, 30);
    if (h.readUInt32LE(0) !== 0x04034b50) throw new Error(`${this.file}: corrupt local header of '${name}'`);
    const start = e.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (e.method === 0) {
      const out = new Uint8Array(new ArrayBuffer(e.size));
      const b = this.read(start, e.size);
      out.set(b);
      return out;
    }
    if (e.method === 8) return new Uint8Array(zlib.inflateRawSync(this.read(start, e.compressedSize)));
    throw new Error(`${this.file}: entry '${name}' uses unsupported compression method ${e.method}`);
  }
}
