// Hostile programs for the sandbox, each run twice: with every layer on (the
// attack must be contained) and with the one layer that contains it switched
// off (the attack must then succeed, which proves the test can fail). The
// Python guard is off in both runs: it is a convenience, not the boundary,
// and these tests are about the OS layers.
// Used by sandbox.test.ts in-process, and as a child process run as uid
// nobody (`node sandbox-attacks.js --child CANARY_DIR`, printing JSON) so the
// same cases are proved for an unprivileged user.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { runPython, type SandboxOptions, type SandboxTestLayer } from '../../src/eval/sandbox.js';

export interface CaseResult { name: string; ok: boolean; detail: string }

const py = (s: string) => JSON.stringify(s);

/** Processes whose command line holds `marker` (killed, so nothing is left behind). */
function survivors(marker: string): number[] {
  const found: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try { if (fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(marker)) found.push(Number(p)); } catch { /* gone */ }
  }
  for (const p of found) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  return found;
}

/** Run every attack under `base` options; `canaryDir` must be writable by the sandboxed uid and outside /tmp. */
export async function runAttacks(canaryDir: string, base: SandboxOptions = {}): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  const run = (program: string, off: SandboxTestLayer[], extra: SandboxOptions = {}) =>
    runPython(program, { ...base, ...extra, testDisable: ['guard', ...off], unsafeExec: off.length > 0 });
  const canary = path.join(canaryDir, 'canary.txt');
  const uid = fs.statSync(canaryDir).uid, gid = fs.statSync(canaryDir).gid;
  const reset = () => {
    fs.rmSync(path.join(canaryDir, 'inner'), { recursive: true, force: true });
    fs.mkdirSync(path.join(canaryDir, 'inner'));
    fs.writeFileSync(canary, 'keep me');
    fs.writeFileSync(path.join(canaryDir, 'inner', 'c.txt'), 'keep me');
    for (const f of [canary, path.join(canaryDir, 'inner'), path.join(canaryDir, 'inner', 'c.txt')]) fs.chownSync(f, uid, gid);
  };
  const intact = () => fs.existsSync(canary) && fs.readFileSync(canary, 'utf8') === 'keep me' && fs.existsSync(path.join(canaryDir, 'inner', 'c.txt'));

  // 1. the filesystem: a file the sandboxed user owns, outside /tmp
  const fsAttacks: Record<string, string> = {
    'os.remove': `import os\nos.remove(${py(canary)})`,
    'posix.unlink': `import posix\nposix.unlink(${py(canary)})`,
    'shutil.rmtree': `import shutil\nshutil.rmtree(${py(path.join(canaryDir, 'inner'))})\nimport os\nos.remove(${py(canary)})`,
    "open(..., 'w')": `open(${py(canary)}, "w").write("overwritten")`,
    'libc unlink (ctypes)': `import ctypes\nr = ctypes.CDLL(None).unlink(${py(canary)}.encode())\nassert r == 0, r`,
  };
  for (const [name, program] of Object.entries(fsAttacks)) {
    reset();
    const on = await run(program, []);
    const heldOn = intact();
    reset();
    const off = await run(program, ['fs']);
    const heldOff = intact();
    reset();
    out.push({
      name: `fs: ${name}`, ok: heldOn && on.status === 'failed' && !heldOff && off.status === 'passed',
      detail: `contained: canary ${heldOn ? 'intact' : 'DAMAGED'} (${on.status}); fs layer off: canary ${heldOff ? 'intact' : 'damaged'} (${off.status}) ${off.stderr.slice(-200)}`,
    });
  }

  // 2. processes: a double-forked setsid daemon must be gone when the run returns
  const marker = `bc2-daemon-${process.pid}-${Date.now()}`;
  const daemon = `import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        fd = os.open('/dev/null', os.O_RDWR)
        for i in range(3): os.dup2(fd, i)
        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(30)', ${py(marker)}])
    os._exit(0)
time.sleep(0.5)`;
  {
    const on = await run(daemon, []);
    const leftOn = survivors(marker);
    const off = await run(daemon, ['pid']);
    await new Promise((r) => setTimeout(r, 200));
    const leftOff = survivors(marker);
    out.push({
      name: 'pid: double-forked setsid daemon', ok: on.status === 'passed' && leftOn.length === 0 && leftOff.length > 0,
      detail: `contained: ${leftOn.length} survivors (${on.status} ${on.stderr.slice(-200)}); pid layer off: ${leftOff.length} survivors`,
    });
  }

  // 3. the network: a live server on loopback
  {
    let connections = 0;
    const server = net.createServer((s) => { connections++; s.destroy(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const program = `import _socket\ns = _socket.socket()\ns.settimeout(3)\ns.connect(("127.0.0.1", ${port}))\ns.close()`;
    const on = await run(program, []);
    const seenOn = connections;
    const off = await run(program, ['net']);
    await new Promise((r) => setTimeout(r, 100));
    server.close();
    out.push({
      name: 'net: connect to a loopback server', ok: seenOn === 0 && on.status === 'failed' && connections > 0 && off.status === 'passed',
      detail: `contained: ${seenOn} connections (${on.status}); net layer off: ${connections - seenOn} connections (${off.status})`,
    });
  }

  // 4. bombs, with the rlimits on: stopped, the run returns, nothing is left
  {
    const bombMarker = `bc2-bomb-${process.pid}-${Date.now()}`;
    const body = 'import os\nwhile True:\n    try: os.fork()\n    except OSError: pass\n';
    const bomb = `import os, sys\nos.execv(sys.executable, [sys.executable, '-c', ${py(body)}, ${py(bombMarker)}])`;
    const r = await run(bomb, [], { timeoutMs: 2000 });
    const left = survivors(bombMarker);
    out.push({
      name: 'fork bomb', ok: r.status !== 'passed' && r.ms < 8000 && left.length === 0,
      detail: `${r.status} after ${r.ms.toFixed(0)} ms, ${left.length} processes left`,
    });
    const mem = await run('blocks = []\nwhile True:\n    blocks.append(bytearray(50_000_000))\n', [], { memoryBytes: 512 * 2 ** 20, timeoutMs: 10_000 });
    out.push({ name: 'memory bomb', ok: mem.status === 'failed' && /MemoryError/.test(mem.stderr), detail: `${mem.status}: ${mem.stderr.slice(-120)}` });
  }
  return out;
}

if (process.argv[2] === '--child') {
  const dir = process.argv[3]!;
  const launcher = process.argv[4] as SandboxOptions['launcher'] | undefined;
  runAttacks(dir, { launcher }).then(
    (r) => { process.stdout.write(JSON.stringify(r)); },
    (e: Error) => { process.stdout.write(JSON.stringify([{ name: 'child', ok: false, detail: String(e.stack ?? e) }])); },
  );
}
