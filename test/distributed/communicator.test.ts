// The communicator on real processes over Gloo: every collective against the
// value computed here in float64, on 3 ranks (reduce-scatter falls back to an
// all-reduce) and 4 (halving-doubling, whose bit-reversed shard order the
// addon undoes), a rank that dies mid-job fails its peers
// at once with a message, a rank that never comes fails the rendezvous at the
// timeout; the rendezvous store's framing; the environment's validation; the
// local (world of one) communicator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { glooStatus } from '../../src/distributed/gloo.js';
import { distEnv } from '../../src/distributed/env.js';
import { LocalCommunicator, bytesOnWire } from '../../src/distributed/communicator.js';
import { startStoreServer, parseRequest } from '../../src/distributed/store.js';
import { freePort } from '../../src/distributed/launch.js';

const gloo = glooStatus();
const skip = gloo.available ? false : gloo.reason;
const GLOO = path.resolve('dist/src/distributed/gloo.js');

/** Run `body` (an async function body with `c`, `rank`, `W` in scope) as `world` ranks; each prints one JSON line. */
async function ranks(world: number, body: string, env: Record<string, string> = {}, timeoutMs = 20_000, rendezvousDir?: string): Promise<{ code: number | null; out: string; err: string; ms: number }[]> {
  const port = await freePort();
  const where = rendezvousDir ? `rendezvousDir: ${JSON.stringify(rendezvousDir)}` : `master: { host: '127.0.0.1', port: ${port} }`;
  const src = `import { GlooCommunicator } from ${JSON.stringify(GLOO)};
const rank = Number(process.env.RANK), W = Number(process.env.WORLD_SIZE);
const c = await GlooCommunicator.connect({ rank, worldSize: W, ${where}, timeoutMs: Number(process.env.TIMEOUT_MS ?? 10000) });
${body}
c.close();`;
  return Promise.all(Array.from({ length: world }, (_, rank) => new Promise<{ code: number | null; out: string; err: string; ms: number }>((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', src], { env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(world), ...env } });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, err, ms: Date.now() - t0 }); });
  })));
}

const ranksOf = (W: number) => Array.from({ length: W }, (_, r) => r);

for (const W of [3, 4]) test(`Gloo collectives on ${W} ranks equal the float64 reference`, { skip }, async () => {
  const body = `
const n = 60, val = (r, i) => Math.fround(Math.sin(1 + i * 0.37 + r * 1.91) * 3);
const sum = Float32Array.from({ length: n }, (_, i) => val(rank, i)); c.allReduce(sum);
const avg = Float64Array.from({ length: n }, (_, i) => val(rank, i) + 0.1); c.allReduce(avg, 'avg');
const rs = Float32Array.from({ length: n }, (_, i) => val(rank, i)); c.reduceScatter(rs, 'avg');
const shard = Uint16Array.from({ length: 4 }, (_, i) => 1000 * rank + i), all = new Uint16Array(4 * W); c.allGather(shard, all);
const bc = Int32Array.from({ length: 5 }, (_, i) => rank * 10 + i); c.broadcast(bc, 2);
c.barrier();
console.log(JSON.stringify({ sum: [...sum], avg: [...avg], rs: [...rs.subarray(rank * n / W, (rank + 1) * n / W)], all: [...all], bc: [...bc], stats: c.stats }));`;
  const res = await ranks(W, body);
  const n = 60, val = (r: number, i: number) => Math.fround(Math.sin(1 + i * 0.37 + r * 1.91) * 3);
  const ref = Array.from({ length: n }, (_, i) => ranksOf(W).reduce((s, r) => s + val(r, i), 0));
  // two float32 additions in any order: |error| <= 2 u sum |x_i| (u = 2^-24), with margin
  const bound = Array.from({ length: n }, (_, i) => 4 * 2 ** -24 * ranksOf(W).reduce((s, r) => s + Math.abs(val(r, i)), 0));
  res.forEach((r, rank) => {
    assert.equal(r.code, 0, r.err);
    const o = JSON.parse(r.out) as { sum: number[]; avg: number[]; rs: number[]; all: number[]; bc: number[]; stats: { calls: number; payloadBytes: number; sentBytes: number } };
    o.sum.forEach((x, i) => assert.ok(Math.abs(x - ref[i]!) <= bound[i]!, `sum[${i}] ${x} vs ${ref[i]}`));
    o.avg.forEach((x, i) => assert.ok(Math.abs(x - (ref[i]! / W + 0.1)) < 1e-6, `avg[${i}]`));  // the f32 inputs' f64 mean (the +0.1 is not an f32)
    o.rs.forEach((x, j) => { const i = rank * (n / W) + j; assert.ok(Math.abs(x - ref[i]! / W) <= bound[i]! / W + 2 ** -24 * Math.abs(ref[i]! / W), `reduceScatter[${i}]`); });
    assert.deepEqual(o.all, ranksOf(W).flatMap((r) => [0, 1, 2, 3].map((i) => 1000 * r + i)));
    assert.deepEqual(o.bc, [20, 21, 22, 23, 24]);
    assert.equal(o.stats.calls, 5);
    assert.equal(o.stats.sentBytes, 2 * (W - 1) / W * (n * 4 + n * 8 + (W === 4 ? 0 : n * 4)) + (W === 4 ? (W - 1) / W * n * 4 : 0) + (W - 1) / W * 4 * W * 2 + 5 * 4);
    assert.equal(o.stats.payloadBytes, n * 4 + n * 8 + n * 4 + 4 * W * 2 + 5 * 4);
  });
});

test('a rank that dies fails its peers at once with a message; a rank that never comes fails the rendezvous at the timeout', { skip }, async () => {
  const died = await ranks(2, `
c.barrier();
if (rank === 1) process.exit(3);
const t0 = Date.now();
try { for (let i = 0; i < 100; i++) c.allReduce(new Float32Array(1000)); console.log('no error'); }
catch (e) { console.log(JSON.stringify({ ms: Date.now() - t0, message: e.message })); }`);
  assert.equal(died[1]!.code, 3);
  const r0 = JSON.parse(died[0]!.out) as { ms: number; message: string };
  assert.match(r0.message, /gloo allReduce \(rank 0\): .*(closed|reset|Broken)/i);
  assert.match(r0.message, /another rank exited, hung or lost the network/);
  assert.ok(r0.ms < 5000, `${r0.ms} ms`);
  // world of 2, only rank 0 starts: the store answers, the peer never does
  const port = await freePort();
  const t0 = Date.now();
  const { GlooCommunicator } = await import('../../src/distributed/gloo.js');
  await assert.rejects(GlooCommunicator.connect({ rank: 0, worldSize: 2, master: { host: '127.0.0.1', port }, timeoutMs: 1500 }), /gloo rendezvous \(rank 0 of 2\): .*(timed out|Timed out)/);
  const ms = Date.now() - t0;
  assert.ok(ms >= 1400 && ms < 10_000, `${ms} ms`);
});

test('rendezvous through Gloo\'s FileStore in a shared folder', { skip }, async () => {
  const fs = await import('node:fs'), os = await import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-filestore-'));
  const res = await ranks(2, 'const x = Float64Array.of(rank + 1); c.allReduce(x); console.log(x[0]);', {}, 20_000, dir);
  for (const r of res) { assert.equal(r.code, 0, r.err); assert.equal(r.out.trim(), '3'); }
});

test('rendezvous store: framing, set/get/wait, and a timeout reply', async () => {
  const frame = (op: number, keys: string[], value: Buffer, timeoutMs: number) => {
    const parts: Buffer[] = [Buffer.from([op]), u32(keys.length)];
    for (const k of keys) parts.push(u32(Buffer.byteLength(k)), Buffer.from(k));
    parts.push(u32(value.length), value, u32(timeoutMs));
    return Buffer.concat(parts);
  };
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  const f = frame(1, ['a/key'], Buffer.from([1, 2, 3]), 500);
  assert.equal(parseRequest(f.subarray(0, f.length - 1)), null);  // incomplete: wait for more bytes
  assert.deepEqual(parseRequest(f)!.req, { op: 1, keys: ['a/key'], value: Buffer.from([1, 2, 3]), timeoutMs: 500 });
  assert.throws(() => parseRequest(Buffer.from([9, 0, 0, 0, 0])), /bad request/);
  const server = await startStoreServer('127.0.0.1', 0);
  try {
    const talk = (bufs: Buffer[], replies: number) => new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(server.port, '127.0.0.1');
      let got = Buffer.alloc(0);
      s.on('data', (d) => {
        got = Buffer.concat([got, d]);
        let o = 0, n = 0;
        while (o + 5 <= got.length) { o += 5 + got.readUInt32LE(o + 1); n++; }
        if (n >= replies) { s.destroy(); resolve(got); }
      });
      s.on('error', reject);
      for (const b of bufs) s.write(b);
    });
    // a get sent before the set is answered once the key exists
    const pending = talk([frame(2, ['k'], Buffer.alloc(0), 5000)], 1);
    await talk([frame(1, ['k'], Buffer.from('hello'), 0)], 1);
    const got = await pending;
    assert.equal(got.readUInt8(0), 0);
    assert.equal(got.subarray(5).toString(), 'hello');
    const timedOut = await talk([frame(3, ['k', 'never'], Buffer.alloc(0), 200)], 1);
    assert.equal(timedOut.readUInt8(0), 1);
  } finally {
    await server.close();
  }
});

test('the rank environment is validated, naming the variable', () => {
  assert.equal(distEnv({}), null);
  assert.deepEqual(distEnv({ WORLD_SIZE: '2', RANK: '1', MASTER_ADDR: 'node0', MASTER_PORT: '29500' }),
    { rank: 1, worldSize: 2, localRank: 1, timeoutMs: 300_000, runId: 'baichuan2', master: { host: 'node0', port: 29500 } });
  assert.equal(distEnv({ OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_LOCAL_RANK: '1', BAICHUAN2_RDZV_DIR: '/shared/rdzv' })!.localRank, 1);
  assert.throws(() => distEnv({ WORLD_SIZE: '2' }), /RANK is not/);
  assert.throws(() => distEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_ADDR: 'a', MASTER_PORT: '1' }), /RANK=2 is outside WORLD_SIZE=2/);
  assert.throws(() => distEnv({ WORLD_SIZE: 'two', RANK: '0' }), /WORLD_SIZE="two"/);
  assert.throws(() => distEnv({ WORLD_SIZE: '2', RANK: '0' }), /set MASTER_ADDR and MASTER_PORT/);
  assert.throws(() => distEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: 'a', MASTER_PORT: '70000' }), /MASTER_PORT="70000"/);
  assert.throws(() => distEnv({ WORLD_SIZE: '1', RANK: '0', BAICHUAN2_DIST_TIMEOUT: '0' }), /BAICHUAN2_DIST_TIMEOUT/);
});

test('a world of one: collectives are the identity; the wire accounting', () => {
  const c = new LocalCommunicator();
  const x = Float32Array.from([1, 2, 3]);
  c.allReduce(x, 'avg');
  c.reduceScatter(x, 'avg');
  assert.deepEqual([...x], [1, 2, 3]);
  const out = new Float32Array(3);
  c.allGather(x, out);
  assert.deepEqual([...out], [1, 2, 3]);
  assert.throws(() => c.broadcast(x, 1), /root 1 is outside a world of 1/);
  assert.equal(bytesOnWire('allReduce', 1000, 4), 1500);
  assert.equal(bytesOnWire('reduceScatter', 1000, 4), 750);
  assert.equal(bytesOnWire('allGather', 1000, 1), 0);
});

test('NCCL seam: rank 0\'s unique id reaches every rank over the TCP store and through a shared folder; an unknown backend is named', async () => {
  const BOOT = path.resolve('dist/src/distributed/bootstrap.js'), ENV = path.resolve('dist/src/distributed/env.js');
  const run = (env: Record<string, string>) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const src = `import { shareUniqueId } from ${JSON.stringify(BOOT)}; import { distEnv } from ${JSON.stringify(ENV)};
import crypto from 'node:crypto';
const id = await shareUniqueId(distEnv(), () => crypto.randomBytes(128));
console.log(Buffer.from(id).toString('hex'));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', src], { env: { ...process.env, ...env } });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => resolve({ code, out: out.trim(), err }));
  });
  const port = String(await freePort());
  const fs = await import('node:fs'), os = await import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-rdzv-'));
  const places: Record<string, string>[] = [{ MASTER_ADDR: '127.0.0.1', MASTER_PORT: port }, { BAICHUAN2_RDZV_DIR: dir }];
  for (const where of places) {
    const res = await Promise.all([0, 1, 2].map((r) => run({ ...where, WORLD_SIZE: '3', RANK: String(r), BAICHUAN2_RUN_ID: 'job7', BAICHUAN2_DIST_TIMEOUT: '20' })));
    for (const r of res) assert.equal(r.code, 0, r.err);
    assert.match(res[0]!.out, /^[0-9a-f]{256}$/);
    assert.deepEqual(res.map((r) => r.out), [res[0]!.out, res[0]!.out, res[0]!.out]);
  }
  const { communicatorFromEnv } = await import('../../src/distributed/env.js');
  await assert.rejects(communicatorFromEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port, BAICHUAN2_DIST_BACKEND: 'nccl' }), /BAICHUAN2_DIST_BACKEND=nccl: no such backend is registered \(built in: gloo\)/);
});

test('the launcher refuses bad options by name', async () => {
  const { launch } = await import('../../src/distributed/launch.js');
  const base = { nproc: 2, script: 'bin/baichuan2.js', args: ['pretrain'] };
  await assert.rejects(launch({ ...base, nproc: 0 }), /--nproc must be an integer >= 1/);
  await assert.rejects(launch({ ...base, nnodes: 2 }), /--nnodes > 1 needs --master-addr and --master-port/);
  await assert.rejects(launch({ ...base, nnodes: 2, nodeRank: 2, masterAddr: 'a', masterPort: 1 }), /--node-rank 2 must be below --nnodes 2/);
  await assert.rejects(launch({ ...base, args: [] }), /no command after --/);
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [path.resolve('bin/baichuan2.js'), 'launch', '--nproc', '2', '--', 'generate'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /launch runs pretrain or sft, got 'generate'/);
});
