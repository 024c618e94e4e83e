// The sandbox contains hostile completions. Containment, not invisibility:
// a canary the sandboxed user could write, outside /tmp, survives every way
// of deleting it; a setsid daemon dies with the run; no connection reaches a
// loopback server; bombs are stopped. Each case is also run with its layer
// switched off and must then succeed (sandbox-attacks.ts). The cases run as
// the current user and, when that is root, again as uid nobody, for each
// launcher this machine has (bubblewrap, the unshare fallback).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertSandboxUsable, meetsMinimum, runPython, sandboxLauncher, SandboxRefusedError, type SandboxOptions } from '../../src/eval/sandbox.js';
import { runAttacks, type CaseResult } from './sandbox-attacks.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.getuid?.() === 0;
const NOBODY = 65534;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const launcherWorks = (l: SandboxOptions['launcher']) => { try { sandboxLauncher(undefined, l); return true; } catch { return false; } };

/** Whether `uid` can reach `dir`: every folder from / down must be searchable by it (owner or others x bit). */
function reachable(dir: string, uid: number): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    if (!(st.uid === uid ? st.mode & 0o100 : st.mode & 0o001)) return false;
    if (d === '/') return true;
  }
}

/**
 * A folder outside /tmp (which the sandbox replaces) that `uid` owns and can
 * reach, so that with a protection layer off the hostile program really can
 * delete the canary (a checkout under /tmp falls back to a home folder, which
 * may be 0700 to `uid`, then to system folders).
 */
function canaryDir(uid: number): string | null {
  for (const base of [process.cwd(), os.homedir(), '/var/lib', '/srv', '/opt']) {
    if (/^\/(tmp|var\/tmp|dev\/shm)(\/|$)/.test(path.resolve(base))) continue;
    if (!fs.existsSync(base) || !reachable(base, uid)) continue;
    try {
      const d = fs.mkdtempSync(path.join(base, '.bc2-canary-'));
      fs.chmodSync(d, 0o755);
      fs.chownSync(d, uid, uid);
      return d;
    } catch { /* not writable: try the next */ }
  }
  return null;
}

function check(results: CaseResult[]): void {
  for (const r of results) assert.ok(r.ok, `${r.name}: ${r.detail}`);
  assert.ok(results.length >= 9, `only ${results.length} cases ran`);
}

test('sandbox: passes, fails, times out, and names its layers', async (t) => {
  const isolation = sandboxLauncher().isolation;
  t.diagnostic(`isolation layers here: ${isolation.join(', ')}`);
  if (!meetsMinimum(isolation)) return t.skip(`the sandbox here is below its minimum (${isolation.join(', ')}): install bubblewrap or allow user namespaces`);
  const ok = await runPython('import math\nassert math.gcd(12, 18) == 6\nopen("scratch.txt", "w").write("ok")\nprint("hi")\n');
  assert.equal(ok.status, 'passed', ok.stderr);
  assert.equal(ok.stdout, 'hi\n');
  assert.deepEqual(ok.isolation, isolation);
  const fail = await runPython('assert 1 + 1 == 3');
  assert.equal(fail.status, 'failed');
  assert.match(fail.stderr, /AssertionError/);
  const loop = await runPython('while True:\n    pass\n', { timeoutMs: 1500 });
  assert.equal(loop.status, 'timeout');
  assert.ok(loop.ms < 5000, `killed after ${loop.ms} ms`);
  const sleeper = await runPython('import time\ntime.sleep(60)\n', { timeoutMs: 1000 });
  assert.equal(sleeper.status, 'timeout');
  // the guard turns the usual mistakes into clean failures
  const guarded = await runPython('import os\nos.system("true")');
  assert.equal(guarded.status, 'failed');
  assert.match(guarded.stderr, /blocked by the evaluation sandbox/);
  // writes to /tmp stay inside
  const stray = path.join(os.tmpdir(), `bc2-stray-${process.pid}.txt`);
  await runPython(`open(${JSON.stringify(stray)}, "w").write("left behind")`);
  assert.ok(!fs.existsSync(stray), 'a file written to /tmp stays inside the sandbox');
  assert.ok(!fs.readdirSync(os.tmpdir()).some((f) => f.startsWith('bc2-sandbox-')), 'working directories are removed');
});

test('sandbox: below the minimum isolation generated code is refused unless unsafeExec', async () => {
  await assert.rejects(runPython('print(1)', { launcher: 'none' }), (e: Error) => e instanceof SandboxRefusedError && /--unsafe-exec/.test(e.message) && /netns \+ ro-root/.test(e.message));
  assert.throws(() => assertSandboxUsable({ launcher: 'none' }), SandboxRefusedError);  // what eval checks before generating
  assert.ok(assertSandboxUsable({ launcher: 'none', unsafeExec: true }).includes('rlimits'));
  const r = await runPython('print(1)', { launcher: 'none', unsafeExec: true });
  assert.equal(r.status, 'passed');
  assert.ok(!r.isolation.includes('netns') && r.isolation.includes('rlimits'), r.isolation.join(','));
});

for (const launcher of ['bwrap', 'unshare'] as const) {
  test(`sandbox (${launcher}): containment as ${root ? 'root' : 'this user'}`, async (t) => {
    if (!launcherWorks(launcher)) return t.skip(`${launcher} does not work here (${launcher === 'bwrap' ? 'apt-get install bubblewrap' : 'no user namespaces'})`);
    const dir = canaryDir(root ? NOBODY : process.getuid!());
    if (!dir) return t.skip('no folder outside /tmp to hold the canary');
    try {
      const results = await runAttacks(dir, { launcher });
      for (const r of results) t.diagnostic(`${r.name}: ${r.detail}`);
      check(results);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  test(`sandbox (${launcher}): containment as an unprivileged user (nobody)`, async (t) => {
    if (!root) return t.skip('the suite is not running as root: the case above already ran unprivileged');
    if (!has('setpriv')) return t.skip('setpriv (util-linux) missing');
    const dir = canaryDir(NOBODY);
    if (!dir) return t.skip('no folder outside /tmp to hold the canary');
    try {
      const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, path.join(here, 'sandbox-attacks.js'), '--child', dir, launcher],
        { encoding: 'utf8', timeout: 60_000, cwd: dir, env: { PATH: process.env.PATH, HOME: dir } });
      assert.equal(r.status, 0, r.stderr);
      const results = JSON.parse(r.stdout) as CaseResult[];
      if (results.length === 1 && /does not work/.test(results[0]!.detail)) return t.skip(`${launcher} does not work for an unprivileged user here: ${results[0]!.detail.split('\n')[0]}`);
      for (const c of results) t.diagnostic(`${c.name}: ${c.detail}`);
      check(results);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
}

test('sandbox run: the command prints a JSON status; a hostile program run by an unprivileged user deletes nothing', async (t) => {
  if (!launcherWorks('bwrap') && !launcherWorks('unshare')) return t.skip('no launcher reaches the minimum here');
  const bin = path.resolve(here, '../../../bin/baichuan2.js');
  const uid = root ? NOBODY : process.getuid!();
  const dir = canaryDir(uid);
  if (!dir) return t.skip('no folder outside /tmp to hold the canary');
  try {
    const canary = path.join(dir, 'canary.txt');
    fs.writeFileSync(canary, 'keep me');
    fs.chownSync(canary, uid, uid);
    const prog = (name: string, src: string) => { const f = path.join(dir, name); fs.writeFileSync(f, src); fs.chmodSync(f, 0o644); return f; };
    const asUser = root ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'] : [];
    const cli = (args: string[]) => {
      const argv = [...asUser, process.execPath, bin, ...args];
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000, cwd: dir, env: { PATH: process.env.PATH, HOME: dir } });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    let r = cli(['sandbox', 'run', prog('ok.py', 'print(6 * 7)\n')]);
    assert.equal(r.code, 0, r.err);
    const ok = JSON.parse(r.out) as { status: string; stdout: string; isolation: string[] };
    assert.equal(ok.status, 'passed');
    assert.equal(ok.stdout, '42\n');
    assert.ok(ok.isolation.includes('netns') && ok.isolation.includes('ro-root'), ok.isolation.join(','));
    const hostile = `import ctypes, os, posix, shutil
for f in (lambda: posix.unlink(${JSON.stringify(canary)}), lambda: ctypes.CDLL(None).unlink(${JSON.stringify(canary)}.encode()),
          lambda: open(${JSON.stringify(canary)}, 'w').write('x'), lambda: shutil.rmtree(${JSON.stringify(dir)})):
    try: f()
    except Exception as e: print(type(e).__name__)
`;
    r = cli(['sandbox', 'run', prog('hostile.py', hostile), '--timeout', '5']);
    assert.equal(fs.readFileSync(canary, 'utf8'), 'keep me');
    assert.equal((JSON.parse(r.out) as { status: string }).status, 'passed', r.out);  // it ran; every attempt failed inside
    r = cli(['sandbox', 'run', prog('loop.py', 'while True: pass\n'), '--timeout', '1']);
    assert.equal(r.code, 1);
    assert.equal((JSON.parse(r.out) as { status: string }).status, 'timeout');
    r = cli(['sandbox', 'run', path.join(dir, 'missing.py')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /missing\.py: cannot read \(ENOENT\)/);
    r = cli(['sandbox', 'run', path.join(dir, 'ok.py'), '--timeout', 'soon']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--timeout must be a number/);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});
