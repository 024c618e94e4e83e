// Scoring records with a reward model (`baichuan2 score`): preference pairs
// give {"chosen", "rejected"}; {"prompt", "response"} records and message lists
// ending on an assistant turn give {"score"}. The layout is the training one:
// prompt = chat format ending in 196, response = encode(response) + eos, the
// score read at the last token. Malformed records are skipped and named.
import type { BpeTokenizer } from '../../tokenizer/bpe.js';
import type { ChatMessage } from '../../infer/chat-format.js';
import { readJsonRecords, parsePreferenceRecord, encodePair, encodePrompt, describeSkipped, type ReadReport } from './data.js';
import type { RewardModel } from './reward-model.js';
import type { Sequence } from './logprobs.js';

type Item = { kind: 'pair'; chosen: Sequence; rejected: Sequence; where: string } | { kind: 'one'; seq: Sequence; where: string };

function single(rec: Record<string, unknown>): { messages: ChatMessage[]; response: string } | string {
  if (typeof rec.response === 'string') {
    if (typeof rec.prompt !== 'string') return 'a "response" record needs a string "prompt"';
    return { messages: [{ role: 'user', content: rec.prompt }], response: rec.response };
  }
  if (Array.isArray(rec.messages)) {
    const m = rec.messages as ChatMessage[];
    const last = m[m.length - 1];
    if (!last || last.role !== 'assistant' || typeof last.content !== 'string') return 'messages must end on an assistant turn to be scored';
    if (m.some((x) => !x || typeof x.content !== 'string' || !['system', 'user', 'assistant'].includes(x.role))) return 'a message needs role system|user|assistant and string content';
    return { messages: m.slice(0, -1), response: last.content };
  }
  return 'no chosen/rejected, prompt/response or messages field';
}

export function scoreRecords(rm: RewardModel, tok: BpeTokenizer, file: string, maxLength: number): { lines: Record<string, number | string>[]; skipped: string } {
  const report: ReadReport = { records: 0, skipped: [] };
  const encode = (t: string) => tok.encode(t);
  const eos = rm.config.eosTokenId;
  const items: Item[] = [];
  for (const { rec, line } of readJsonRecords(file, report)) {
    const where = `${file}:${line}`;
    const r = rec as Record<string, unknown>;
    if (r && typeof r === 'object' && !Array.isArray(r) && r.chosen !== undefined) {
      const p = parsePreferenceRecord(r, where);
      if (typeof p === 'string') { report.skipped.push({ file, line, reason: p }); continue; }
      const e = encodePair(p, { encode, eosTokenId: eos, maxLength });
      items.push({ kind: 'pair', chosen: { prompt: e.prompt, response: e.chosen }, rejected: { prompt: e.prompt, response: e.rejected }, where });
      continue;
    }
    const s = r && typeof r === 'object' && !Array.isArray(r) ? single(r) : 'not a JSON object';
    if (typeof s === 'string') { report.skipped.push({ file, line, reason: s }); continue; }
    const response = [...encode(s.response), eos];
    const prompt = encodePrompt(s.messages.length ? s.messages : [{ role: 'user', content: '' }], encode, Math.max(2, maxLength - response.length));
    items.push({ kind: 'one', seq: { prompt, response: response.slice(0, maxLength - prompt.length) }, where });
  }
  const seqs = items.flatMap((it) => (it.kind === 'pair' ? [it.chosen, it.rejected] : [it.seq]));
  const scores = rm.scoreSequences(seqs);
  let k = 0;
  const lines = items.map((it): Record<string, number | string> => (it.kind === 'pair' ? { chosen: scores[k++]!, rejected: scores[k++]!, where: it.where } : { score: scores[k++]!, where: it.where }));
  return { lines, skipped: report.skipped.length ? `${file}: skipped ${report.skipped.length} record(s): ${describeSkipped(report)}` : '' };
}
