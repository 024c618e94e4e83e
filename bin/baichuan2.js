#!/usr/bin/env node
// The `baichuan2` command: runs the compiled CLI (built by `npm ci`).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv)).catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli')) {
    console.error('baichuan2: the package is not built; run `npm ci` (or `npm run build`) first');
  } else {
    console.error(`baichuan2: ${err && err.message ? err.message : err}`);
  }
  process.exit(1);
});
