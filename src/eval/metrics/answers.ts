// Answer extraction and normalisation for the generative tasks:
// - GSM8K: the last number of the completion (OpenCompass's gsm8k
//   post-processing), compared numerically with the text after '####';
// - MATH: the last \boxed{...} (or "The answer is ..."), normalised by the
//   `strip_string` rules of Hendrycks et al.'s MATH code before comparison;
// - BBH: the text after the last "the answer is" (lm-eval-harness's CoT rule).

/** GSM8K: the text before the model starts a new question, commas dropped, last number. */
export function extractLastNumber(completion: string): string | null {
  const text = completion.split('Question:')[0]!.replaceAll(',', '');
  const nums = text.match(/-?\d+\.\d+|-?\d+/g);
  return nums ? nums[nums.length - 1]! : null;
}

/** GSM8K's reference answer: the number after '#### '. */
export function gsm8kGold(answer: string): string {
  const m = /####\s*(.+)\s*$/.exec(answer);
  if (!m) throw new SyntaxError(`gsm8k: answer has no '####' line: ${JSON.stringify(answer.slice(-80))}`);
  return m[1]!.replaceAll(',', '').trim();
}

export function numbersEqual(a: string | null, b: string): boolean {
  if (a === null) return false;
  const x = Number(a), y = Number(b);
  return Number.isFinite(x) && Number.isFinite(y) ? Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(y)) : a.trim() === b.trim();
}

/** The contents of the last \boxed{...} (or \fbox{...}) with balanced braces, or null. */
export function lastBoxed(s: string): string | null {
  let idx = Math.max(s.lastIndexOf('\\boxed'), s.lastIndexOf('\\fbox'));
  if (idx < 0) return null;
  if (s.startsWith('\\boxed ', idx)) return s.slice(idx + 7).split('$')[0]!.trim();
  idx = s.indexOf('{', idx);
  if (idx < 0) return null;
  let depth = 0;
  for (let i = idx; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return s.slice(idx + 1, i);
  }
  return null;
}

/** MATH: the model's final answer: last \boxed{}, else "The answer is X", else the last $...$. */
export function extractMathAnswer(completion: string): string | null {
  const boxed = lastBoxed(completion);
  if (boxed !== null) return boxed;
  const m = /[Tt]he (?:final )?answer is:?\s*(.+?)\s*(?:\.\s*$|\.\s*\n|\n|$)/.exec(completion);
  if (m) return m[1]!.replace(/^\$(.*)\$$/s, '$1').trim();
  const dollars = completion.match(/\$([^$]+)\$/g);
  return dollars ? dollars[dollars.length - 1]!.slice(1, -1) : null;
}

function fixFracs(s: string): string {
  const parts = s.split('\\frac');
  let out = parts[0]!;
  for (const sub of parts.slice(1)) {
    out += '\\frac';
    if (sub.startsWith('{')) { out += sub; continue; }
    if (sub.length < 2) return s;
    const a = sub[0]!, b = sub[1]!;
    if (b !== '{') out += `{${a}}{${b}}` + sub.slice(2);
    else out += `{${a}}` + sub.slice(1);
  }
  return out;
}

function fixASlashB(s: string): string {
  const parts = s.split('/');
  if (parts.length !== 2) return s;
  if (!/^-?\d+$/.test(parts[0]!) || !/^-?\d+$/.test(parts[1]!)) return s;
  return `\\frac{${Number(parts[0])}}{${Number(parts[1])}}`;
}

function fixSqrt(s: string): string {
  if (!s.includes('\\sqrt')) return s;
  const parts = s.split('\\sqrt');
  return parts[0]! + parts.slice(1).map((p) => (p.startsWith('{') || !p ? '\\sqrt' + p : `\\sqrt{${p[0]}}${p.slice(1)}`)).join('');
}

/** Hendrycks et al.'s `strip_string`: makes equivalent LaTeX answers compare equal. */
export function normalizeMath(s: string): string {
  s = s.replaceAll('\n', '').replaceAll('\\!', '').replaceAll('\\\\', '\\')
    .replaceAll('tfrac', 'frac').replaceAll('dfrac', 'frac').replaceAll('\\left', '').replaceAll('\\right', '')
    .replaceAll('^{\\circ}', '').replaceAll('^\\circ', '').replaceAll('\\$', '');
  if (s.includes('\\text{ ')) s = s.split('\\text{ ')[0]!;  // trailing units
  s = s.replaceAll('\\%', '').replaceAll('%', '').replaceAll(' .', ' 0.').replaceAll('{.', '{0.');
  if (!s) return s;
  if (s[0] === '.') s = '0' + s;
  const eq = s.split('=');
  if (eq.length === 2 && eq[0]!.length <= 2) s = eq[1]!;
  s = fixSqrt(s).replaceAll(' ', '');
  s = fixFracs(s);
  if (s === '0.5') s = '\\frac{1}{2}';
  return fixASlashB(s);
}

export function mathEquivalent(a: string | null, b: string): boolean {
  if (a === null) return false;
  return normalizeMath(a) === normalizeMath(b);
}

/** BBH (CoT): the answer after the last "the answer is", without the final period. */
export function extractBbhAnswer(completion: string): string {
  const text = completion.split('\n\nQ:')[0]!;
  const i = text.toLowerCase().lastIndexOf('the answer is ');
  const tail = i >= 0 ? text.slice(i + 'the answer is '.length) : text;
  return tail.split('\n')[0]!.trim().replace(/\.$/, '').trim();
}
