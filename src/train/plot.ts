// A loss-curve SVG (train and validation loss against step), no dependencies.
export interface Series { name: string; color: string; points: [number, number][] }

export function lossSvg(series: Series[], title: string, xLabel = 'step', yLabel = 'loss', logX = false): string {
  const W = 720, H = 420, L = 60, R = 20, T = 40, B = 50;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (!all.length) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><text x="20" y="30">${title}: no data</text></svg>`;
  const fx = (x: number) => (logX ? Math.log10(x) : x);
  let x0 = Math.min(...all.map(([x]) => fx(x))), x1 = Math.max(...all.map(([x]) => fx(x)));
  let y0 = Math.min(...all.map(([, y]) => y)), y1 = Math.max(...all.map(([, y]) => y));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 += 0.5; y0 -= 0.5; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const px = (x: number) => L + ((fx(x) - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const ticks = (a: number, b: number, n: number) => Array.from({ length: n + 1 }, (_, i) => a + ((b - a) * i) / n);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>`];
  for (const v of ticks(y0, y1, 5)) parts.push(`<line x1="${L}" x2="${W - R}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/><text x="${L - 6}" y="${py(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
  for (const v of ticks(x0, x1, 5)) {
    const label = logX ? `1e${v.toFixed(1)}` : String(Math.round(v));
    parts.push(`<text x="${L + ((v - x0) / (x1 - x0)) * (W - L - R)}" y="${H - B + 18}" text-anchor="middle">${label}</text>`);
  }
  parts.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`);
  parts.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle">${escape(xLabel)}</text><text x="16" y="${H / 2}" transform="rotate(-90 16 ${H / 2})" text-anchor="middle">${escape(yLabel)}</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of pts.length <= 40 ? pts : []) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    parts.push(`<rect x="${W - R - 150}" y="${T + 8 + 18 * i}" width="12" height="3" fill="${s.color}"/><text x="${W - R - 132}" y="${T + 13 + 18 * i}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
