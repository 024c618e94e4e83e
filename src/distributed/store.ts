// The rendezvous key store over TCP: the server half (the client is
// native/comm/src/tcp_store.cc, a gloo::rendezvous::Store). Rank 0 hosts it on
// MASTER_ADDR:MASTER_PORT for the few seconds of Gloo's full-mesh rendezvous,
// as torchrun's TCPStore does; every rank (rank 0 too) is a client. Its
// event-loop I/O keeps working while rank 0's own connect runs on a worker
// thread. Wire format (little-endian u32):
//   request  op(u8: 1 set, 2 get, 3 wait) nkeys (klen key)* vlen value timeoutMs
//   reply    status(u8: 0 ok, 1 timeout) vlen value
// get/wait are answered when every key exists, or with status 1 at the timeout.
import net from 'node:net';

interface Request { op: number; keys: string[]; value: Buffer; timeoutMs: number }

/** Parse one request from the front of `buf`; null while incomplete. */
export function parseRequest(buf: Buffer): { req: Request; used: number } | null {
  let o = 0;
  const need = (n: number) => o + n <= buf.length;
  if (!need(5)) return null;
  const op = buf.readUInt8(o); o += 1;
  const nkeys = buf.readUInt32LE(o); o += 4;
  if (op < 1 || op > 3 || nkeys > 65536) throw new Error(`rendezvous store: bad request (op ${op}, ${nkeys} keys)`);
  const keys: string[] = [];
  for (let i = 0; i < nkeys; i++) {
    if (!need(4)) return null;
    const k = buf.readUInt32LE(o); o += 4;
    if (k > 4096) throw new Error(`rendezvous store: key of ${k} bytes`);
    if (!need(k)) return null;
    keys.push(buf.toString('utf8', o, o + k)); o += k;
  }
  if (!need(4)) return null;
  const vlen = buf.readUInt32LE(o); o += 4;
  if (vlen > 1 << 24) throw new Error(`rendezvous store: value of ${vlen} bytes`);
  if (!need(vlen + 4)) return null;
  const value = Buffer.from(buf.subarray(o, o + vlen)); o += vlen;
  const timeoutMs = buf.readUInt32LE(o); o += 4;
  return { req: { op, keys, value, timeoutMs }, used: o };
}

function reply(sock: net.Socket, status: number, value: Buffer = Buffer.alloc(0)): void {
  const head = Buffer.alloc(5);
  head.writeUInt8(status, 0);
  head.writeUInt32LE(value.length, 1);
  sock.write(Buffer.concat([head, value]));
}

export interface StoreServer {
  readonly port: number;
  /** Resolves when every key exists; rejects at the timeout. */
  waitFor(keys: string[], timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Serve the rendezvous store on host:port (port 0: any free port). */
export async function startStoreServer(host: string, port: number): Promise<StoreServer> {
  const data = new Map<string, Buffer>();
  const waiters = new Set<{ keys: string[]; sock: net.Socket; done: () => void; cancel: () => void }>();
  const sockets = new Set<net.Socket>();
  const wake = () => {
    for (const w of waiters) if (w.keys.every((k) => data.has(k))) { waiters.delete(w); w.done(); }
  };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      try {
        for (let p = parseRequest(buf); p; p = parseRequest(buf)) {
          buf = buf.subarray(p.used);
          const { op, keys, value, timeoutMs } = p.req;
          if (op === 1) { data.set(keys[0]!, value); reply(sock, 0); wake(); continue; }
          const answer = () => reply(sock, 0, op === 2 ? data.get(keys[0]!)! : undefined);
          if (keys.every((k) => data.has(k))) { answer(); continue; }
          const w = { keys, sock, done: () => { clearTimeout(timer); answer(); }, cancel: () => clearTimeout(timer) };
          const timer = setTimeout(() => { waiters.delete(w); if (!sock.destroyed) reply(sock, 1); }, timeoutMs);
          timer.unref();
          waiters.add(w);
        }
      } catch (e) {
        if (process.env.BAICHUAN2_STORE_DEBUG) console.error(e);
        sock.destroy();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      sockets.delete(sock);
      for (const w of waiters) if (w.sock === sock) { w.cancel(); waiters.delete(w); }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`rendezvous store: cannot listen on ${host}:${port} (${e.code ?? e.message}); is MASTER_PORT in use?`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    waitFor: (keys, timeoutMs) => new Promise<void>((resolve, reject) => {
      const missing = () => keys.filter((k) => !data.has(k));
      if (!missing().length) { resolve(); return; }
      const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`rendezvous store: timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${missing().join(', ')}`)); }, timeoutMs);
      const w = { keys, sock: null as unknown as net.Socket, done: () => { clearTimeout(timer); resolve(); }, cancel: () => clearTimeout(timer) };
      waiters.add(w);
    }),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * A client of the store in TypeScript (the C++ one serves Gloo's rendezvous):
 * for exchanges outside Gloo, such as NCCL's unique id (bootstrap.ts).
 * One request at a time per client.
 */
export class StoreClient {
  private buf = Buffer.alloc(0);
  private waiting: ((b: Buffer) => void) | null = null;
  private failure: Error | null = null;
  private constructor(private readonly sock: net.Socket, private readonly where: string) {
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.pump(); });
    const fail = (e: Error) => { this.failure = e; this.waiting?.(Buffer.alloc(0)); };
    sock.on('error', (e) => fail(new Error(`rendezvous store ${where}: ${e.message}`)));
    sock.on('close', () => fail(new Error(`rendezvous store ${where}: connection closed by the server (rank 0 exited?)`)));
  }

  /** Connect, retrying until `timeoutMs` (the host may not be listening yet). */
  static async connect(host: string, port: number, timeoutMs: number): Promise<StoreClient> {
    const deadline = Date.now() + timeoutMs, where = `${host}:${port}`;
    for (;;) {
      try {
        const sock = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(port, host, () => { s.off('error', reject); resolve(s); });
          s.once('error', reject);
        });
        sock.setNoDelay(true);
        return new StoreClient(sock, where);
      } catch {
        if (Date.now() >= deadline) throw new Error(`rendezvous store ${where}: no answer within ${Math.round(timeoutMs / 1000)} s (is rank 0 running, and MASTER_ADDR/MASTER_PORT right?)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private pump(): void {
    if (!this.waiting || this.buf.length < 5) return;
    const len = this.buf.readUInt32LE(1);
    if (this.buf.length < 5 + len) return;
    const msg = this.buf.subarray(0, 5 + len);
    this.buf = this.buf.subarray(5 + len);
    const w = this.waiting;
    this.waiting = null;
    w(msg);
  }

  private async request(op: number, keys: string[], value: Uint8Array, timeoutMs: number): Promise<Buffer> {
    if (this.failure) throw this.failure;
    const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
    const parts: Buffer[] = [Buffer.from([op]), u32(keys.length)];
    for (const k of keys) parts.push(u32(Buffer.byteLength(k)), Buffer.from(k));
    parts.push(u32(value.length), Buffer.from(value), u32(timeoutMs));
    const reply = new Promise<Buffer>((resolve) => { this.waiting = resolve; });
    this.sock.write(Buffer.concat(parts));
    this.pump();
    const msg = await reply;
    if (this.failure) throw this.failure;
    if (msg.readUInt8(0) !== 0) throw new Error(`rendezvous store ${this.where}: timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${keys.join(', ')} (a rank did not start or died)`);
    return msg.subarray(5);
  }

  async set(key: string, value: Uint8Array): Promise<void> { await this.request(1, [key], value, 0); }
  /** The value of `key`, waiting up to `timeoutMs` for some rank to set it. */
  async get(key: string, timeoutMs: number): Promise<Uint8Array> { return new Uint8Array(await this.request(2, [key], new Uint8Array(0), timeoutMs)); }
  close(): void { this.sock.destroy(); }
}
