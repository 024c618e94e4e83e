// The sandbox contains hostile completions: an endless loop, unbounded
// memory, deleting files outside its directory (through Python, a shell and
// raw libc), a socket to a live local server, a fork bomb. Each is stopped or
// refused, and the next program runs normally.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runPython, sandboxLauncher } from '../../src/eval/sandbox.js';

test('sandbox: passes, fails, and stops hostile programs', async (t) => {
  const isolation = sandboxLauncher().isolation;
  t.diagnostic(`isolation layers here: ${isolation.join(', ')}`);
  const ok = await runPython('import math\nassert math.gcd(12, 18) == 6\nopen("scratch.txt", "w").write("ok")\n');
  assert.equal(ok.status, 'passed', ok.stderr);
  const fail = await runPython('assert 1 + 1 == 3');
  assert.equal(fail.status, 'failed');
  assert.match(fail.stderr, /AssertionError/);

  const loop = await runPython('while True:\n    pass\n', { timeoutMs: 1500 });
  assert.equal(loop.status, 'timeout');
  assert.ok(loop.ms < 5000, `killed after ${loop.ms} ms`);
  const sleeper = await runPython('import time\ntime.sleep(60)\n', { timeoutMs: 1000 });
  assert.equal(sleeper.status, 'timeout');

  const mem = await runPython('blocks = []\nwhile True:\n    blocks.append(bytearray(50_000_000))\n', { memoryBytes: 512 * 2 ** 20, timeoutMs: 10_000 });
  assert.equal(mem.status, 'failed');
  assert.match(mem.stderr, /MemoryError/);

  // a file outside the sandbox's directory, in a folder only we may write
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-canary-'));
  fs.chmodSync(outside, 0o755);
  const canary = path.join(outside, 'canary.txt');
  fs.writeFileSync(canary, 'keep me');
  for (const attack of [
    `import os\nos.remove(${JSON.stringify(canary)})`,
    `import shutil\nshutil.rmtree(${JSON.stringify(outside)})`,
    `import subprocess\nsubprocess.run(["rm", "-f", ${JSON.stringify(canary)}])`,
    `import os\nos.system("rm -f ${canary}")`,
    `open(${JSON.stringify(canary)}, "w").write("overwritten")`,
  ]) {
    const r = await runPython(attack);
    assert.equal(r.status, 'failed', attack);
  }
  if (isolation.includes('uid-nobody')) {
    // below the Python guard: raw libc calls are refused by the kernel
    const raw = await runPython(`import ctypes\nr = ctypes.CDLL(None).unlink(${JSON.stringify(canary).replace(/^"|"$/g, "'")}.encode())\nassert r == 0, r\n`);
    assert.equal(raw.status, 'failed');
  } else t.diagnostic('no privilege drop here (not root): the raw-libc unlink case is not checked');
  assert.equal(fs.readFileSync(canary, 'utf8'), 'keep me');
  // world-writable places: with a private /tmp a write there vanishes with the sandbox
  const stray = path.join(os.tmpdir(), `bc2-stray-${process.pid}.txt`);
  await runPython(`open(${JSON.stringify(stray)}, "w").write("left behind")`);
  if (isolation.includes('private-tmp')) assert.ok(!fs.existsSync(stray), 'a file written to /tmp stays inside the sandbox');
  else { t.diagnostic('no private /tmp here: a write to /tmp is not contained'); fs.rmSync(stray, { force: true }); }

  // a live server on loopback: no connection may reach it
  let connections = 0;
  const server = net.createServer((s) => { connections++; s.destroy(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  for (const attack of [
    `import socket\nsocket.create_connection(("127.0.0.1", ${port}), timeout=2)`,
    `import _socket\ns = _socket.socket()\ns.settimeout(2)\ns.connect(("127.0.0.1", ${port}))`,
  ]) {
    const r = await runPython(attack);
    assert.equal(r.status, 'failed', attack);
  }
  server.close();
  if (isolation.includes('netns')) assert.equal(connections, 0);
  else t.diagnostic('no network namespace here: the raw _socket case relies on the guard only');

  const bomb = await runPython('import os\nwhile True:\n    os.fork()\n', { timeoutMs: 3000 });
  assert.notEqual(bomb.status, 'passed');
  const after = await runPython('print("still fine")');
  assert.equal(after.status, 'passed');
  assert.ok(!fs.readdirSync(os.tmpdir()).some((f) => f.startsWith('bc2-sandbox-')), 'working directories are removed');
});
