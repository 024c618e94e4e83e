// Scoring functions on hand-made cases and published reference values.
import test from 'node:test';
import assert from 'node:assert/strict';
import { corpusBleu, tokenize13a, tokenizeZh } from '../../src/eval/metrics/bleu.js';
import { meanPassAtK, passAtK } from '../../src/eval/metrics/pass-at-k.js';
import { extractBbhAnswer, extractLastNumber, extractMathAnswer, gsm8kGold, lastBoxed, mathEquivalent, normalizeMath, numbersEqual } from '../../src/eval/metrics/answers.js';
import { parseCsv, parseCsvRecords } from '../../src/eval/csv.js';
import { parsePythonLiteral } from '../../src/eval/python-literal.js';
import { limitItems } from '../../src/eval/runner.js';
import { gsm8kSolution } from '../../src/eval/tasks/reasoning.js';

test('BLEU: the two worked examples of the sacreBLEU README (2.x defaults)', () => {
  const sys = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
  const refs = [['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'], ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.']];
  // published: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
  const b = corpusBleu(sys, refs);
  assert.equal(b.score.toFixed(2), '48.53');
  assert.deepEqual(b.precisions.map((p) => p.toFixed(1)), ['82.4', '50.0', '45.5', '37.5']);
  assert.equal(b.bp.toFixed(3), '0.943');
  assert.equal(b.sysLen, 17);
  assert.equal(b.refLen, 18);
  // published, variable references: BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)
  const v = corpusBleu(sys, [['', refs[0]![1]!, refs[0]![2]!], refs[1]!]);
  assert.equal(v.score.toFixed(2), '29.44');
  assert.deepEqual(v.precisions.map((p) => p.toFixed(1)), ['82.4', '42.9', '27.3', '12.5']);
  assert.equal(v.refLen, 19);
  assert.match(v.signature, /nrefs:var/);
});

test('BLEU: identity is 100, disjoint is 0, exp smoothing on a missing 4-gram, brevity penalty', () => {
  // exp(mean(log 100)) is 100 up to float64 rounding
  assert.ok(Math.abs(corpusBleu(['a b c d e'], [['a b c d e']]).score - 100) < 1e-9);
  assert.equal(corpusBleu(['x y z w'], [['a b c d']]).score, 0);
  // 4 words, all unigrams..trigrams match in order except no 4-gram: p4 = 100 / (2 * 1)
  const s = corpusBleu(['a b c x'], [['a b c y']]);
  assert.deepEqual(s.precisions, [75, 200 / 3, 50, 50]);
  const expected = Math.exp((Math.log(75) + Math.log(200 / 3) + Math.log(50) + Math.log(50)) / 4);
  assert.ok(Math.abs(s.score - expected) < 1e-9);
  const short = corpusBleu(['a b c d'], [['a b c d e f g h']]);
  assert.ok(Math.abs(short.bp - Math.exp(1 - 8 / 4)) < 1e-12);
  assert.throws(() => corpusBleu(['a'], [['a', 'b']]), /2 lines/);
});

test('13a and zh tokenisation', () => {
  assert.equal(tokenize13a("I'm a student."), "I'm a student .");
  assert.equal(tokenize13a('It costs $3,000.50, (really)!'), 'It costs $ 3,000.50 , ( really ) !');
  assert.equal(tokenize13a('a-b 1990-2000 &quot;x&quot;'), 'a-b 1990 - 2000 " x "');
  assert.equal(tokenizeZh('教我中文吧'), '教 我 中 文 吧');
  assert.equal(tokenizeZh('我有3个apple。'), '我 有 3 个 apple 。');
});

test('pass@k: the unbiased estimator against its closed form', () => {
  const comb = (n: number, k: number) => { let r = 1; for (let i = 0; i < k; i++) r = (r * (n - i)) / (i + 1); return r; };
  for (const [n, c, k] of [[10, 3, 1], [10, 3, 5], [20, 0, 5], [20, 20, 1], [200, 13, 10], [5, 4, 2]] as const) {
    const closed = n - c < k ? 1 : 1 - comb(n - c, k) / comb(n, k);
    assert.ok(Math.abs(passAtK(n, c, k) - closed) < 1e-12, `${n} ${c} ${k}`);
  }
  assert.equal(passAtK(1, 1, 1), 1);
  assert.equal(passAtK(1, 0, 1), 0);
  assert.ok(Math.abs(passAtK(10, 3, 1) - 0.3) < 1e-12);  // pass@1 = c/n (float64 product rounding)
  assert.equal(meanPassAtK([[1, 1], [1, 0]], 1), 0.5);
  assert.throws(() => passAtK(5, 6, 1), RangeError);
  assert.throws(() => passAtK(5, 2, 6), /exceeds/);
});

test('GSM8K: gold parsing, last-number extraction, numeric comparison, solution rendering', () => {
  assert.equal(gsm8kGold('So 3+4=<<3+4=7>>7\n#### 1,234'), '1234');
  assert.throws(() => gsm8kGold('no marker'), /####/);
  assert.equal(extractLastNumber('She has 3 apples and buys 4, so 7.\nThe answer is 7.\n\nQuestion: 99 bottles'), '7');
  assert.equal(extractLastNumber('It costs $1,250.50 in total'), '1250.50');
  assert.equal(extractLastNumber('-5 degrees'), '-5');
  assert.equal(extractLastNumber('no digits'), null);
  assert.ok(numbersEqual('18.0', '18'));
  assert.ok(!numbersEqual('17', '18'));
  assert.ok(!numbersEqual(null, '18'));
  assert.equal(gsm8kSolution('16 - 3 = <<16-3=13>>13 eggs.\n#### 13'), '16 - 3 = 13 eggs.\nThe answer is 13.');
});

test('MATH: boxed extraction and the strip_string normalisation', () => {
  assert.equal(lastBoxed('so $\\boxed{\\frac{1}{2}}$ and finally \\boxed{[2,5)}.'), '[2,5)');
  assert.equal(lastBoxed('\\boxed{a{b}c}'), 'a{b}c');
  assert.equal(lastBoxed('none'), null);
  assert.equal(extractMathAnswer('Thus the answer is $12$.'), '12');
  assert.equal(normalizeMath('\\dfrac12'), '\\frac{1}{2}');
  assert.equal(normalizeMath('0.5'), '\\frac{1}{2}');
  assert.equal(normalizeMath('3/4'), '\\frac{3}{4}');
  assert.equal(normalizeMath('x = 5'), '5');
  assert.equal(normalizeMath('\\left( 3, 4 \\right)'), '(3,4)');
  assert.equal(normalizeMath('90^\\circ'), '90');
  assert.equal(normalizeMath('\\sqrt2'), '\\sqrt{2}');
  assert.equal(normalizeMath('10\\%'), '10');
  assert.equal(normalizeMath('5 \\text{ cm}'), '5');
  assert.ok(mathEquivalent('\\tfrac{1}{2}', '0.5'));
  assert.ok(!mathEquivalent('\\frac{1}{3}', '0.5'));
});

test('BBH: the answer after the last "the answer is"', () => {
  assert.equal(extractBbhAnswer("Let's think. A is True. So the answer is False."), 'False');
  assert.equal(extractBbhAnswer('... So the answer is (B).\n\nQ: next'), '(B)');
  assert.equal(extractBbhAnswer('no marker here'), 'no marker here');
});

test('CSV: quotes, escaped quotes, embedded newlines, CRLF, BOM; field-count errors', () => {
  assert.deepEqual(parseCsv('\ufeffa,b\r\n"x,1","say ""hi""\nthere"\n'), [['a', 'b'], ['x,1', 'say "hi"\nthere']]);
  assert.deepEqual(parseCsvRecords('q,A\n1,2\n'), [{ q: '1', A: '2' }]);
  assert.throws(() => parseCsvRecords('q,A\n1,2,3\n', 'f.csv'), /f.csv: row 2 has 3 fields/);
  assert.throws(() => parseCsv('"open'), /unterminated/);
});

test('Python literals as in AGIEval few_shot_prompts.csv', () => {
  assert.deepEqual(parsePythonLiteral(`{'passage': None, 'question': 'It\\'s "x"\\n', 'options': ['(A)1', "(B)2"], 'label': ['C'], 'n': -1.5, 'ok': True}`),
    { passage: null, question: `It's "x"\n`, options: ['(A)1', '(B)2'], label: ['C'], n: -1.5, ok: true });
  assert.equal(parsePythonLiteral(`'\\\\sqrt{2} \\u00e9'`), '\\sqrt{2} é');
  assert.throws(() => parsePythonLiteral(`{'a': foo}`), /unexpected 'f' at offset 6/);
  assert.throws(() => parsePythonLiteral(`['a'`), /expected , or ]|unexpected end/);
});

test('--limit takes items round-robin over subjects and keeps task order', () => {
  const items = ['a', 'a', 'a', 'b', 'b', 'c'].map((subject, i) => ({ subject, i }));
  assert.deepEqual(limitItems(items, 4).map((x) => x.i), [0, 1, 3, 5]);
  assert.equal(limitItems(items, 100).length, 6);
  assert.equal(limitItems(items).length, 6);
});
