// Runs untrusted, model-written Python (HumanEval/MBPP completions) in a
// child process, never in-process. Layers, strongest available first:
//  1. OS: a fresh network namespace (no interfaces up: nothing to connect to)
//     and mount namespace in which /tmp, /var/tmp and /dev/shm are private,
//     empty tmpfs mounts (so even world-writable places are thrown away);
//     when we run as root the child also drops to uid/gid 65534 (nobody), so
//     the kernel refuses writes to everything else. As non-root, an
//     unprivileged user namespace gives the network and mount isolation.
//  2. Resource limits set in the child before the program runs: address space,
//     CPU seconds, file size, process count; plus a wall-clock kill of the
//     whole process group from here.
//  3. The human-eval "reliability guard": destructive os/shutil/subprocess
//     functions and sockets are replaced before the program is executed.
// Each run gets a fresh temporary working directory that is deleted after.
// The layers found are reported with every result (`isolation`).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SandboxOptions {
  /** Wall-clock limit (ms); default 10 s. */
  timeoutMs?: number;
  /** Address-space limit for the child (bytes); default 2 GiB. */
  memoryBytes?: number;
  /** Python interpreter; default $BAICHUAN2_PYTHON, else /usr/bin/python3 or python3. */
  python?: string;
}

export type SandboxStatus = 'passed' | 'failed' | 'timeout';

export interface SandboxResult {
  status: SandboxStatus;
  exitCode: number | null;
  signal: string | null;
  /** Last 2 KB of stderr (the traceback, usually). */
  stderr: string;
  ms: number;
  isolation: string[];
}

// Python that runs first in the child: limits, then the guard, then the program.
const GUARD = String.raw`
import builtins, faulthandler, os, resource, shutil, socket, subprocess, sys
mem, cpu = int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
faulthandler.disable()
src = open(sys.argv[1], encoding='utf-8').read()
def _blocked(*a, **k):
    raise PermissionError('blocked by the evaluation sandbox')
for name in ['kill', 'killpg', 'system', 'putenv', 'remove', 'removedirs', 'rmdir', 'fchdir', 'setuid', 'fork', 'forkpty',
             'rename', 'renames', 'truncate', 'replace', 'unlink', 'fchmod', 'fchown', 'chmod', 'chown', 'chroot', 'lchown',
             'lchflags', 'lchmod', 'chdir', 'execv', 'execve', 'execvp', 'execvpe', 'spawnv', 'spawnve', 'popen']:
    if hasattr(os, name): setattr(os, name, _blocked)
for name in ['rmtree', 'move', 'chown']: setattr(shutil, name, _blocked)
subprocess.Popen = _blocked
socket.socket = _blocked
socket.create_connection = _blocked
for mod in ['ipdb', 'joblib', 'psutil', 'tkinter']: sys.modules[mod] = None
sys.argv = ['program.py']
exec(compile(src, 'program.py', 'exec'), {'__name__': '__main__', '__builtins__': builtins})
`;

interface Launcher { prefix: string[]; python: string; isolation: string[]; dropUser: boolean }
let launcher: Launcher | null = null;

function works(cmd: string[]): boolean {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

/** Find the strongest isolation this machine allows (probed once per process). */
export function sandboxLauncher(python?: string): Launcher {
  if (launcher && (!python || launcher.python === python)) return launcher;
  const candidates = python ? [python] : [process.env.BAICHUAN2_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
  const ok = (p: string) => works([p, '-c', 'import resource, socket, subprocess']);
  const py = candidates.find(ok);
  if (!py) throw new Error(`sandbox: no usable Python interpreter (tried ${candidates.join(', ')}); set BAICHUAN2_PYTHON`);
  const root = process.getuid?.() === 0;
  const drop = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
  // inside the new mount namespace: private tmpfs over the world-writable places, then the program
  // (the working directory stays reachable through the cwd the child starts in)
  const privateTmp = (then: string[]) => ['sh', '-c', 'for d in /tmp /var/tmp /dev/shm; do [ -d "$d" ] && mount -t tmpfs -o size=64m,mode=1777 tmpfs "$d" || exit 97; done; exec "$@"', 'sandbox', ...then];
  const tries: Launcher[] = [];
  if (root) tries.push({ prefix: ['unshare', '--net', '--mount', '--', ...privateTmp(drop)], python: py, isolation: ['netns', 'private-tmp', 'uid-nobody', 'rlimits', 'guard'], dropUser: true });
  if (root) tries.push({ prefix: ['unshare', '--net', '--', ...drop], python: py, isolation: ['netns', 'uid-nobody', 'rlimits', 'guard'], dropUser: true });
  if (root) tries.push({ prefix: drop, python: py, isolation: ['uid-nobody', 'rlimits', 'guard'], dropUser: true });
  tries.push({ prefix: ['unshare', '--user', '--map-root-user', '--net', '--mount', '--', ...privateTmp([])], python: py, isolation: ['netns', 'private-tmp', 'rlimits', 'guard'], dropUser: false });
  tries.push({ prefix: ['unshare', '--user', '--map-root-user', '--net', '--'], python: py, isolation: ['netns', 'rlimits', 'guard'], dropUser: false });
  const found = tries.find((t) => works([...t.prefix, t.python, '-c', 'pass']));  // probed from the cwd, like real runs
  launcher = found ?? { prefix: [], python: py, isolation: ['rlimits', 'guard'], dropUser: false };
  return launcher;
}

/** Run `program` (Python source) in the sandbox; passes when it exits 0 within the limits. */
export function runPython(program: string, opts: SandboxOptions = {}): Promise<SandboxResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const mem = opts.memoryBytes ?? 2 ** 31;
  const l = sandboxLauncher(opts.python);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sandbox-'));
  fs.writeFileSync(path.join(dir, 'program.py'), program);
  if (l.dropUser) { fs.chownSync(dir, 65534, 65534); fs.chmodSync(dir, 0o700); }
  const cpuSeconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  // the guard goes in with -c and the program by a relative path: with a private /tmp the
  // directory is reachable only as the child's cwd (Python would absolutise a script path)
  const argv = [...l.prefix, l.python, '-I', '-S', '-c', GUARD, 'program.py', String(mem), String(cpuSeconds)];
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: dir,
      detached: true,  // own process group, so a kill reaches its children too
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: '/usr/bin:/bin', HOME: dir, TMPDIR: dir, LANG: 'C.UTF-8', PYTHONHASHSEED: '0', PYTHONDONTWRITEBYTECODE: '1' },
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString('utf8')).slice(-2048); });
    let timedOut = false;
    const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
    const timer = setTimeout(() => { timedOut = true; kill(); }, timeoutMs);
    const finish = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      kill();  // stragglers it may have left in its group
      fs.rmSync(dir, { recursive: true, force: true });
      const status: SandboxStatus = timedOut || signal === 'SIGXCPU' ? 'timeout' : code === 0 ? 'passed' : 'failed';
      resolve({ status, exitCode: code, signal, stderr, ms: performance.now() - started, isolation: l.isolation });
    };
    child.on('error', (e) => { stderr += String(e); finish(null, null); });
    child.on('close', finish);
  });
}
