// Build the Gloo collective addon (native/comm) when Gloo is installed
// (Debian: `apt-get install libgloo-dev`), and say so and succeed when it is
// not: everything outside src/distributed's Gloo backend builds and runs without it,
// and its tests skip with this reason.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const header = ['/usr/include/gloo/allreduce.h', '/usr/local/include/gloo/allreduce.h'].find((f) => fs.existsSync(f));
const lib = ['/usr/lib/libgloo.so', '/usr/local/lib/libgloo.so', '/usr/lib/x86_64-linux-gnu/libgloo.so'].find((f) => fs.existsSync(f));
if (!header || !lib) {
  console.log(`native/comm: Gloo not found (${!header ? 'no gloo/allreduce.h' : 'no libgloo.so'}); the distributed backend is not built (apt-get install libgloo-dev)`);
  process.exit(0);
}
const gyp = path.join(here, '..', '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const args = [gyp, 'rebuild', '--directory', here];
// the node headers: npm's nodedir setting, else those installed beside this node binary (no download)
const prefix = path.resolve(path.dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir || (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status !== 0) {
  console.error('native/comm: the Gloo addon failed to build (see above)');
  process.exit(r.status ?? 1);
}
