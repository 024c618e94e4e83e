// Runs untrusted, model-written Python (HumanEval/MBPP completions) in a
// child process, never in-process. Layers, strongest available first:
//  1. OS isolation, one of two launchers:
//     - bubblewrap (`bwrap`, the sandbox Flatpak uses): new user, PID, network,
//       IPC, UTS and mount namespaces; the whole host filesystem bound
//       read-only; fresh tmpfs on /tmp, /var/tmp and /dev/shm; the run's own
//       work folder the only writable host path; `--die-with-parent`, a new
//       session and no capabilities. The PID namespace means every process the
//       program starts (a double-forked `setsid` daemon too) dies with it.
//     - fallback, util-linux `unshare`: network, mount and PID namespaces (a
//       user namespace as non-root); inside, every mount is re-mounted
//       read-only except the work folder, and /tmp, /var/tmp, /dev/shm get
//       private tmpfs mounts.
//     As root, the program also runs as uid/gid 65534 (nobody) on the host.
//  2. Resource limits set in the child before the program runs: address space,
//     CPU seconds, file size, process count; plus a wall-clock kill of the
//     whole process group from here.
//  3. The human-eval "reliability guard": destructive os/shutil/subprocess
//     functions and sockets are replaced before the program is executed
//     (a convenience that turns the common mistakes into clean failures; it
//     is not a security boundary: `posix.unlink` or ctypes get past it).
// The stated minimum is a network namespace and a read-only host filesystem
// (`netns` + `ro-root`). Below it, generated code is refused
// (SandboxRefusedError) unless the caller passes `unsafeExec: true`
// (`--unsafe-exec` on the command line). Every result names the layers used.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Layers the tests may switch off to prove each one matters (never exposed on the command line). */
export type SandboxTestLayer = 'fs' | 'net' | 'pid' | 'guard';

export interface SandboxOptions {
  /** Wall-clock limit (ms); default 10 s. */
  timeoutMs?: number;
  /** Address-space limit for the child (bytes); default 2 GiB. */
  memoryBytes?: number;
  /** Python interpreter; default $BAICHUAN2_PYTHON, else /usr/bin/python3 or python3. */
  python?: string;
  /** Run even below the minimum isolation (no network namespace or no read-only filesystem). */
  unsafeExec?: boolean;
  /** Force one launcher instead of the strongest found ('none': rlimits and guard only). */
  launcher?: 'bwrap' | 'unshare' | 'none';
  /** @internal Tests only: switch layers off to show that the attack then succeeds. */
  testDisable?: SandboxTestLayer[];
}

export type SandboxStatus = 'passed' | 'failed' | 'timeout';

export interface SandboxResult {
  status: SandboxStatus;
  exitCode: number | null;
  signal: string | null;
  /** Last 2 KB of stderr (the traceback, usually). */
  stderr: string;
  /** Last 2 KB of stdout. */
  stdout: string;
  ms: number;
  /** Layers in force for this run, e.g. bwrap, userns, pidns, netns, ipcns, ro-root, private-tmp, uid-nobody, rlimits, guard. */
  isolation: string[];
}

/** The layers without which generated code is not run (unless unsafeExec). */
export const MINIMUM_ISOLATION = ['netns', 'ro-root'] as const;

export class SandboxRefusedError extends Error {
  constructor(readonly isolation: string[]) {
    super(`sandbox: refusing to run generated code: this machine gives only [${isolation.join(', ')}], below the minimum ` +
      `(${MINIMUM_ISOLATION.join(' + ')}: no network and a read-only host filesystem). Install bubblewrap (apt-get install bubblewrap) ` +
      'or enable unprivileged user namespaces, or pass --unsafe-exec (library: unsafeExec: true) to run it anyway');
    this.name = 'SandboxRefusedError';
  }
}

// Python that runs first in the child: limits, then the guard, then the program.
// argv: program path, address-space bytes, CPU seconds, guard on (1/0)
const PRELUDE = String.raw`
import builtins, faulthandler, os, resource, shutil, socket, subprocess, sys
mem, cpu, guard = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == '1'
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
if guard:
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

const NOBODY = 65534;
const DROP = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];

// Inside unshare's mount namespace: keep the work folder (the cwd) writable, re-mount every
// other mount read-only, private tmpfs over the world-writable places, then exec the program.
// Any step that fails exits 97, so the probe rejects the launcher rather than running weaker.
const UNSHARE_FS = String.raw`set -e
d=$PWD
mount --make-rprivate /
if [ "$1" = fs ]; then
  mount --bind "$d" "$d"; cd "$d"
  awk '{print $2}' /proc/self/mounts | sort -u | while read -r m; do
    m=$(printf '%b' "$m"); [ "$m" = "$d" ] && continue
    mount -o remount,bind,ro "$m" 2>/dev/null || { case "$m" in /proc*|/sys*) ;; *) exit 97;; esac; }
  done
fi
for t in /tmp /var/tmp /dev/shm; do [ -d "$t" ] && { mount -t tmpfs -o size=64m,mode=1777 tmpfs "$t" || exit 97; }; done
shift; exec "$@"`;

interface Plan {
  /** argv before the python command; WORK stands for the run's host folder. */
  prefix: string[];
  /** The folder the program sees as its cwd (the host folder, or where it is bound). */
  cwd: 'host' | string;
  isolation: string[];
  dropUser: boolean;
}

interface Launcher { python: string; plan(disable: Set<SandboxTestLayer>): Plan; isolation: string[] }
const launchers = new Map<string, Launcher | null>();

function works(cmd: string[], cwd?: string): boolean {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore', timeout: 10_000, cwd });
  return r.status === 0;
}

function findPython(python?: string): string {
  const candidates = python ? [python] : [process.env.BAICHUAN2_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
  const py = candidates.find((p) => works([p, '-c', 'import resource, socket, subprocess']));
  if (!py) throw new Error(`sandbox: no usable Python interpreter (tried ${candidates.join(', ')}); set BAICHUAN2_PYTHON`);
  return py;
}

const SANDBOX_CWD = '/tmp/sandbox';

function bwrapPlan(root: boolean, disable: Set<SandboxTestLayer>): Plan {
  const fsOn = !disable.has('fs'), netOn = !disable.has('net'), pidOn = !disable.has('pid');
  const prefix = [
    ...(root ? DROP : []),
    'bwrap', '--unshare-user', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    // --as-pid-1: the program is the namespace's init, so bwrap's exit (it waits for pid 1)
    // comes only after the kernel has killed and reaped everything else in the namespace
    ...(pidOn ? ['--unshare-pid', '--as-pid-1'] : []), ...(netOn ? ['--unshare-net'] : []),
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    fsOn ? '--ro-bind' : '--bind', '/', '/',
    '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', '/var/tmp', '--tmpfs', '/dev/shm',
    '--bind', 'WORK', SANDBOX_CWD, '--chdir', SANDBOX_CWD, '--',
  ];
  const isolation = ['bwrap', 'userns', ...(pidOn ? ['pidns'] : []), ...(netOn ? ['netns'] : []), 'ipcns', 'mountns',
    ...(fsOn ? ['ro-root'] : []), 'private-tmp', ...(root ? ['uid-nobody'] : [])];
  return { prefix, cwd: SANDBOX_CWD, isolation, dropUser: root };
}

function unsharePlan(root: boolean, disable: Set<SandboxTestLayer>): Plan {
  const fsOn = !disable.has('fs'), netOn = !disable.has('net'), pidOn = !disable.has('pid');
  const prefix = [
    'unshare', ...(root ? [] : ['--user', '--map-root-user']), ...(netOn ? ['--net'] : []), '--mount',
    ...(pidOn ? ['--pid', '--fork', '--kill-child'] : []), '--',
    'sh', '-c', UNSHARE_FS, 'sandbox', fsOn ? 'fs' : 'nofs', ...(root ? DROP : []),
  ];
  const isolation = ['unshare', ...(root ? [] : ['userns']), ...(pidOn ? ['pidns'] : []), ...(netOn ? ['netns'] : []), 'mountns',
    ...(fsOn ? ['ro-root'] : []), 'private-tmp', ...(root ? ['uid-nobody'] : [])];
  return { prefix, cwd: 'host', isolation, dropUser: root };
}

function nonePlan(root: boolean): Plan {
  return { prefix: root ? DROP : [], cwd: 'host', isolation: root ? ['uid-nobody'] : [], dropUser: root };
}

/** Find the strongest isolation this machine allows (probed once per process and interpreter). */
export function sandboxLauncher(python?: string, only?: SandboxOptions['launcher']): Launcher {
  const key = `${python ?? ''}\0${only ?? ''}`;
  const cached = launchers.get(key);
  if (cached) return cached;
  const py = findPython(python);
  const root = process.getuid?.() === 0;
  const kinds = only ? [only] : ['bwrap', 'unshare', 'none'] as const;
  const probeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-probe-'));
  try {
    if (root) fs.chownSync(probeDir, NOBODY, NOBODY);
    for (const kind of kinds) {
      const planFor = (d: Set<SandboxTestLayer>) => kind === 'bwrap' ? bwrapPlan(root, d) : kind === 'unshare' ? unsharePlan(root, d) : nonePlan(root);
      const p = planFor(new Set());
      // the probe writes in its work folder, like a real run, so a launcher that cannot is rejected
      const argv = [...p.prefix.map((a) => a === 'WORK' ? probeDir : a), py, '-c', 'open("probe", "w").write("ok")'];
      if (kind === 'none' || works(argv, probeDir)) {
        const l: Launcher = { python: py, plan: planFor, isolation: [...p.isolation, 'rlimits', 'guard'] };
        launchers.set(key, l);
        return l;
      }
    }
  } finally {
    fs.rmSync(probeDir, { recursive: true, force: true });
  }
  throw new Error(`sandbox: launcher '${only}' does not work on this machine`);
}

/** Whether these layers meet the stated minimum. */
export function meetsMinimum(isolation: readonly string[]): boolean {
  return MINIMUM_ISOLATION.every((l) => isolation.includes(l));
}

/** Throw SandboxRefusedError when this machine's sandbox is below the minimum and unsafeExec is not set. */
export function assertSandboxUsable(opts: SandboxOptions = {}): string[] {
  const isolation = sandboxLauncher(opts.python, opts.launcher).isolation;
  if (!meetsMinimum(isolation) && !opts.unsafeExec) throw new SandboxRefusedError(isolation);
  return isolation;
}

/** Run `program` (Python source) in the sandbox; passes when it exits 0 within the limits. */
export function runPython(program: string, opts: SandboxOptions = {}): Promise<SandboxResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const mem = opts.memoryBytes ?? 2 ** 31;
  const l = sandboxLauncher(opts.python, opts.launcher);
  const disable = new Set(opts.testDisable ?? []);
  const plan = l.plan(disable);
  const isolation = [...plan.isolation, 'rlimits', ...(disable.has('guard') ? [] : ['guard'])];
  if (!meetsMinimum(isolation) && !opts.unsafeExec) return Promise.reject(new SandboxRefusedError(isolation));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sandbox-'));
  fs.writeFileSync(path.join(dir, 'program.py'), program);
  if (plan.dropUser) { fs.chownSync(dir, NOBODY, NOBODY); fs.chmodSync(dir, 0o700); }
  const cpuSeconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  // the prelude goes in with -c and the program by a relative path: with a private /tmp the
  // host folder is reachable only as the child's cwd (Python would absolutise a script path)
  const argv = [...plan.prefix.map((a) => a === 'WORK' ? dir : a), l.python, '-I', '-S', '-c', PRELUDE, 'program.py', String(mem), String(cpuSeconds), disable.has('guard') ? '0' : '1'];
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: dir,
      detached: true,  // own process group, so a kill reaches its children too
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin', HOME: plan.cwd === 'host' ? dir : plan.cwd, TMPDIR: '/tmp', LANG: 'C.UTF-8', PYTHONHASHSEED: '0', PYTHONDONTWRITEBYTECODE: '1' },
    });
    let stderr = '', stdout = '';
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString('utf8')).slice(-2048); });
    child.stdout!.on('data', (d: Buffer) => { stdout = (stdout + d.toString('utf8')).slice(-2048); });
    let timedOut = false, done = false;
    const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
    const timer = setTimeout(() => { timedOut = true; kill(); }, timeoutMs);
    const finish = (code: number | null, signal: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      kill();  // stragglers it may have left in its group
      fs.rmSync(dir, { recursive: true, force: true });
      const status: SandboxStatus = timedOut || signal === 'SIGXCPU' ? 'timeout' : code === 0 ? 'passed' : 'failed';
      resolve({ status, exitCode: code, signal, stderr, stdout, ms: performance.now() - started, isolation });
    };
    child.on('error', (e) => { stderr += String(e); finish(null, null); });
    // After the launcher exits, wait for the pipes to close: every process of the run holds
    // them until it is gone. With a PID namespace the kernel kills them all, so that wait
    // ends (and the run returns with nothing left behind); without one, a process that
    // escaped the group may hold them for ever, so wait briefly.
    const grace = isolation.includes('pidns') ? 5000 : 300;
    child.on('exit', (code, signal) => {
      const t = setTimeout(() => { child.stdout!.destroy(); child.stderr!.destroy(); finish(code, signal); }, grace);
      child.on('close', () => { clearTimeout(t); finish(code, signal); });
    });
  });
}
