// A parser for the subset of Python literal syntax that AGIEval's
// few_shot_prompts.csv uses: its cells are `repr()` of dicts holding strings,
// lists, None and numbers. Equivalent to `ast.literal_eval` on that subset;
// anything else (calls, names, sets) is rejected with its offset.

export type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

export function parsePythonLiteral(src: string): PyValue {
  let i = 0;
  const fail = (msg: string): never => { throw new SyntaxError(`python literal: ${msg} at offset ${i}`); };
  const ws = () => { while (i < src.length && /\s/.test(src[i]!)) i++; };
  const ESC: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };

  function str(): string {
    const q = src[i]!;
    i++;
    let out = '';
    while (i < src.length && src[i] !== q) {
      const c = src[i]!;
      if (c !== '\\') { out += c; i++; continue; }
      const e = src[i + 1];
      if (e === undefined) fail('dangling backslash');
      if (e === 'x' || e === 'u' || e === 'U') {
        const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = src.slice(i + 2, i + 2 + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail(`bad \\${e} escape`);
        out += String.fromCodePoint(parseInt(hex, 16));
        i += 2 + len;
      } else if (e === '\n') {
        i += 2;  // line continuation
      } else if (e! in ESC) {
        out += ESC[e!]; i += 2;
      } else {
        out += '\\' + e; i += 2;  // Python keeps unknown escapes verbatim
      }
    }
    if (src[i] !== q) fail('unterminated string');
    i++;
    return out;
  }

  function value(): PyValue {
    ws();
    const c = src[i];
    if (c === undefined) return fail('unexpected end');
    if (c === "'" || c === '"') {
      let s = str();
      for (ws(); src[i] === "'" || src[i] === '"'; ws()) s += str();  // implicit concatenation
      return s;
    }
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const out: PyValue[] = [];
      for (ws(); src[i] !== close; ws()) {
        out.push(value());
        ws();
        if (src[i] === ',') i++; else if (src[i] !== close) fail(`expected , or ${close}`);
      }
      i++;
      return out;
    }
    if (c === '{') {
      i++;
      const out: { [k: string]: PyValue } = {};
      for (ws(); src[i] !== '}'; ws()) {
        const k = value();
        if (typeof k !== 'string' && typeof k !== 'number') fail('dict key must be a string or number');
        ws();
        if (src[i] !== ':') fail('expected :');
        i++;
        out[String(k)] = value();
        ws();
        if (src[i] === ',') i++; else if (src[i] !== '}') fail('expected , or }');
      }
      i++;
      return out;
    }
    const m = /^(None|True|False|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(src.slice(i, i + 40));
    if (!m) return fail(`unexpected '${c}'`);
    i += m[0].length;
    return m[0] === 'None' ? null : m[0] === 'True' ? true : m[0] === 'False' ? false : Number(m[0]);
  }

  const v = value();
  ws();
  if (i !== src.length) fail('trailing characters');
  return v;
}
