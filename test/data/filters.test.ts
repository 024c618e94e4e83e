// Each heuristic rule on hand-made cases: a document made to fail it is
// removed by that rule, and a clean document passes every rule.
import test from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_FILTERS, firstFailedRule, words } from '../../src/data/pipeline/filters.js';
import { paragraphs, sentences } from '../../src/data/pipeline/text.js';

const clean = 'The committee met on Tuesday to review the budget for the coming year. Several members raised concerns about rising costs in the maintenance department, and the chair proposed a working group to study them before the next meeting.';
const uniqueWords = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `word${String.fromCharCode(97 + ((from + i) % 26))}${from + i}`);
const passage = ['seventeen', 'orange', 'lanterns', 'floated', 'above', 'the', 'harbour', 'during', 'winter', 'festival'];
const cleanZh = '委员会于周二召开会议，审议了明年的预算。几位委员对维修部门不断上涨的费用表示担忧，主席提议成立一个工作组，在下次会议之前对此进行研究。';

test('clean English and Chinese documents pass every rule', () => {
  assert.equal(firstFailedRule(clean, 'web', DEFAULT_FILTERS), null);
  assert.equal(firstFailedRule(cleanZh, 'web', DEFAULT_FILTERS), null);
});

test('each rule removes the document made to fail it', () => {
  const cases: [string, string][] = [
    ['min_chars', 'too short'],
    ['max_chars', clean.repeat(10)],
    ['word_char_ratio', '<<<>>> ### $$$ %%% &&& *** ((( ))) +++ === ||| ~~~ ^^^ ``` ;;; ::: !!! ??? ,,, ... ### @@@ <<<>>> ### $$$'],
    ['digit_ratio', 'Order numbers 123456 7890123 4567890 1234567 8901234 5678901 2345678 9012345 6789012 3456789 and then 0123456.'],
    ['dup_lines', 'Home\nAbout us\nHome\nContact\nHome\nAbout us\nHome\nContact\nnews of the day with enough words here'],
    ['top_2gram', 'buy now buy now buy now buy now buy now buy now the best shoes buy now buy now buy now at the lowest price'],
    // a ten-word passage said twice inside otherwise varied text: no n-gram is frequent, but 20% is repeated
    ['dup_5gram', [...uniqueWords(40), ...passage, ...uniqueWords(40, 40), ...passage].join(' ')],
    ['ellipsis_lines', 'Read more about the election results...\nClick to see the latest photos from the game...\nThe weather tomorrow will be...\nA full account of the meeting is available in the minutes.'],
    ['boilerplate', `${clean} All rights reserved. Read our privacy policy and terms of use. This site uses cookies; see the cookie policy.`],
  ];
  const c = { ...DEFAULT_FILTERS, max_chars: 1000 };
  for (const [rule, text] of cases) assert.equal(firstFailedRule(text, 'web', c), rule, `${rule}: ${text.slice(0, 40)}`);
});

test('exempt sources skip the character-class and n-gram rules (code)', () => {
  const code = 'for (let i = 0; i < n; i++) { a[i] = b[i] * 2; }\nfor (let j = 0; j < m; j++) { c[j] = d[j] + 1; }\n}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}';
  assert.equal(firstFailedRule(code, 'code:js', DEFAULT_FILTERS), 'word_char_ratio');
  assert.equal(firstFailedRule(code, 'code:js', { ...DEFAULT_FILTERS, exempt_sources: '^code' }), null);
});

test('words, paragraphs and sentences keep every character', () => {
  assert.deepEqual(words('Hello, 世界 ok'), ['Hello,', '世', '界', 'ok']);
  const text = 'First sentence. Second one! 第三句。第四句？\nA line\n\nNew paragraph... end';
  for (const p of paragraphs(text)) assert.equal(sentences(p).join(''), p);
  assert.deepEqual(sentences('第一句。第二句！Third. Fourth'), ['第一句。', '第二句！', 'Third.', ' Fourth']);
});

test('char trigram scorer: a proper distribution; reference-like text scores above gibberish', async () => {
  const { CharTrigramScorer, filterSentences } = await import('../../src/data/pipeline/quality.js');
  const ref = ['the cat sat on the mat. the dog sat on the log.', '猫坐在垫子上。狗坐在木头上。'];
  const m = CharTrigramScorer.train(ref);
  for (const ctx of ['th', 'e ', '猫坐', 'zq', '']) {
    // over every seen character plus one unknown, the conditional probabilities sum to 1 (Witten-Bell)
    const total = m.alphabet().reduce((s, c) => s + m.conditional(ctx, c), 0) + m.conditional(ctx, '\u{10FFFF}');
    assert.ok(Math.abs(total - 1) < 1e-9, `context '${ctx}': ${total}`);
  }
  const [good, bad] = m.score(['the dog sat on the mat.', 'qzx vvk jjp wqz.']);
  assert.ok(good! > bad! + 2, `${good} vs ${bad}`);
  const f = filterSentences('the dog sat on the mat. qzx vvk jjp wqz kkq. the cat sat on the log.', m, -5, 10);
  assert.equal(f.text, 'the dog sat on the mat. the cat sat on the log.');
  assert.equal(f.removedSentences, 1);
});
