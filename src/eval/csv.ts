// RFC 4180 CSV: quoted fields with "" escapes and embedded newlines, CRLF or
// LF line ends, an optional BOM. The C-Eval, CMMLU and MMLU files and
// AGIEval's few-shot prompts are all in this dialect.

/** Parse CSV text into rows of fields (no header handling). */
export function parseCsv(text: string): string[][] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') i++;
    if (c === '\n' || c === '\r') { row.push(field); rows.push(row); row = []; field = ''; i++; continue; }
    field += c; i++;
  }
  if (quoted) throw new SyntaxError('csv: unterminated quoted field');
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/** Rows as objects keyed by the header row; rows with a different field count are an error. */
export function parseCsvRecords(text: string, what = 'csv'): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  return rows.filter((r) => !(r.length === 1 && r[0] === '')).map((r, i) => {
    if (r.length !== header.length) throw new SyntaxError(`${what}: row ${i + 2} has ${r.length} fields, the header has ${header.length}`);
    return Object.fromEntries(header.map((h, j) => [h, r[j]!]));
  });
}
