// Static files of the web chat page, served from one folder and never from
// outside it: the URL path is decoded once, NUL bytes and '..' segments are
// refused, the resolved path must stay under the root, and so must its real
// path (a symlink out of the folder is refused too).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json',
};

/** The package's page folder (src/serve/web, beside the compiled dist/). */
export function webRoot(): string {
  return fileURLToPath(new URL('../../../src/serve/web/', import.meta.url));
}

export interface StaticFile { body: Buffer; type: string }

/** The file for a URL path under root, or null (missing, outside root, or not a regular file). */
export function resolveStatic(root: string, urlPath: string): StaticFile | null {
  let p: string;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (p.includes('\0') || p.split(/[/\\]/).includes('..')) return null;
  if (p === '/' || p === '') p = '/index.html';
  const realRoot = fs.realpathSync(root);
  const file = path.resolve(realRoot, '.' + p);
  if (!inside(realRoot, file)) return null;
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return null;
  }
  if (!inside(realRoot, real) || !fs.statSync(real).isFile()) return null;
  return { body: fs.readFileSync(real), type: TYPES[path.extname(real)] ?? 'application/octet-stream' };
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}
