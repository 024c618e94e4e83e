// Preference pairs and prompts for the reward model, DPO and PPO.
// Accepted records (one JSON object per line of .jsonl / .jsonl.gz, or a .json array):
//   {"prompt": "…", "chosen": "…", "rejected": "…"}           explicit prompt (also "system", "history")
//   {"prompt": [messages], "chosen": [assistant msg] | "…", "rejected": …}   OpenAI messages, prompt side given
//   {"chosen": [messages], "rejected": [messages]}            OpenAI messages sharing everything but the last assistant turn
//   {"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": …}   Anthropic HH text (../shared/data/alignment/hh-rlhf)
// each with an optional "gap" (integer 1–5, the paper's score gap, Table 4) or "margin" (number).
// Prompts for PPO: {"prompt": "…"} | {"messages": [… ending on a user turn]} | any preference pair (its prompt side).
// Token layout (SPEC §12): prompt = build_chat_input(messages) = [system] (195 user [196 assistant])* 196,
// response = encode(response) + eos. A malformed record is counted with file:line and a reason, never fatal.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { buildChatInput, type ChatMessage } from '../../infer/chat-format.js';

export interface PreferencePair {
  /** The conversation before the compared turn; ends on a user message. */
  messages: ChatMessage[];
  chosen: string;
  rejected: string;
  gap?: number;
  margin?: number;
  where: string;
}

export interface Skipped { file: string; line: number; reason: string }

export interface ReadReport { records: number; skipped: Skipped[] }

/** JSON records of a .jsonl, .jsonl.gz or .json (array) file, with their line (or array index + 1). */
export function readJsonRecords(file: string, report: ReadReport): { rec: unknown; line: number }[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: data file not found`);
  if (!/\.(jsonl|jsonl\.gz|json)$/.test(file)) throw new Error(`${file}: unsupported data file (expected .jsonl, .jsonl.gz or .json)`);
  let text: string;
  try {
    const buf = fs.readFileSync(file);
    text = new TextDecoder('utf-8', { fatal: true }).decode(file.endsWith('.gz') ? zlib.gunzipSync(buf) : buf);
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  if (file.endsWith('.json')) {
    let arr: unknown;
    try { arr = JSON.parse(text); } catch (e) { throw new Error(`${file}: invalid JSON (${(e as Error).message})`); }
    if (!Array.isArray(arr)) throw new Error(`${file}: a .json data file must hold an array of records`);
    return arr.map((rec, i) => ({ rec, line: i + 1 }));
  }
  const out: { rec: unknown; line: number }[] = [];
  text.split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    try { out.push({ rec: JSON.parse(l), line: i + 1 }); } catch { report.skipped.push({ file, line: i + 1, reason: 'invalid JSON' }); }
  });
  return out;
}

/** "\n\nHuman: …\n\nAssistant: …" into messages (null when the text has no Human/Assistant turns). */
export function parseHhText(text: string): ChatMessage[] | null {
  const re = /(?:^|\n\n)(Human|Assistant):[ ]?/g;
  const marks: { role: 'user' | 'assistant'; at: number; end: number }[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) marks.push({ role: m[1] === 'Human' ? 'user' : 'assistant', at: m.index, end: m.index + m[0].length });
  if (!marks.length || text.slice(0, marks[0]!.at).trim()) return null;
  return marks.map((k, i) => ({ role: k.role, content: text.slice(k.end, i + 1 < marks.length ? marks[i + 1]!.at : text.length) }));
}

const ROLES = new Set(['system', 'user', 'assistant']);

function asMessages(v: unknown): ChatMessage[] | string {
  if (!Array.isArray(v)) return 'not a message list';
  const out: ChatMessage[] = [];
  for (const m of v) {
    const r = m as { role?: unknown; content?: unknown };
    if (!m || typeof m !== 'object' || typeof r.role !== 'string' || !ROLES.has(r.role) || typeof r.content !== 'string') return 'a message needs role system|user|assistant and string content';
    out.push({ role: r.role as ChatMessage['role'], content: r.content });
  }
  return out;
}

function sameMessages(a: readonly ChatMessage[], b: readonly ChatMessage[]): boolean {
  return a.length === b.length && a.every((m, i) => m.role === b[i]!.role && m.content === b[i]!.content);
}

/** Split two full conversations into the shared prompt and the two last assistant turns. */
function splitShared(c: ChatMessage[], r: ChatMessage[]): { messages: ChatMessage[]; chosen: string; rejected: string } | string {
  const lc = c[c.length - 1], lr = r[r.length - 1];
  if (!lc || !lr || lc.role !== 'assistant' || lr.role !== 'assistant') return 'chosen and rejected must end on an assistant turn';
  const messages = c.slice(0, -1);
  if (!sameMessages(messages, r.slice(0, -1))) return 'chosen and rejected differ before the last assistant turn';
  if (!messages.length || messages[messages.length - 1]!.role !== 'user') return 'no user turn before the compared assistant turn';
  return { messages, chosen: lc.content, rejected: lr.content };
}

/**
 * HH text pair: the turns both texts share up to the last assistant turn are the
 * prompt. When the texts also differ in their turn structure (a response that
 * itself contains "Human:"), fall back to TRL's rule: the prompt is the longest
 * common prefix ending at "\n\nAssistant:", each response the rest of its text.
 */
function splitHhPair(chosen: string, rejected: string): { messages: ChatMessage[]; chosen: string; rejected: string } | string {
  const c = parseHhText(chosen), j = parseHhText(rejected);
  if (!c || !j) return 'chosen/rejected text without "\\n\\nHuman:"/"\\n\\nAssistant:" turns (or give "prompt")';
  const s = splitShared(c, j);
  if (typeof s !== 'string') return s;
  let k = 0;
  while (k < chosen.length && k < rejected.length && chosen[k] === rejected[k]) k++;
  const marker = '\n\nAssistant:';
  const at = chosen.lastIndexOf(marker, k - marker.length);
  if (at < 0) return s;
  const head = parseHhText(chosen.slice(0, at));
  if (!head || head[head.length - 1]!.role !== 'user') return s;
  const rest = (t: string) => t.slice(at + marker.length).replace(/^ /, '');
  return { messages: head, chosen: rest(chosen), rejected: rest(rejected) };
}

function promptMessages(rec: Record<string, unknown>): ChatMessage[] | string {
  const p = rec.prompt;
  let msgs: ChatMessage[];
  if (typeof p === 'string') {
    msgs = [];
    if (rec.system !== undefined) {
      if (typeof rec.system !== 'string') return 'system must be a string';
      msgs.push({ role: 'system', content: rec.system });
    }
    if (rec.history !== undefined) {
      const h = asMessages(rec.history);
      if (typeof h === 'string') return `history: ${h}`;
      msgs.push(...h);
    }
    msgs.push({ role: 'user', content: p });
  } else {
    const m = asMessages(p);
    if (typeof m === 'string') return `prompt: ${m}`;
    msgs = m;
  }
  if (!msgs.length || msgs[msgs.length - 1]!.role !== 'user') return 'the prompt must end on a user turn';
  return msgs;
}

function responseText(v: unknown, field: string): string | { error: string } {
  if (typeof v === 'string') return v;
  const m = asMessages(v);
  if (typeof m === 'string') return { error: `${field}: ${m}` };
  if (m.length !== 1 || m[0]!.role !== 'assistant') return { error: `${field}: with an explicit prompt, expected one assistant message` };
  return m[0]!.content;
}

/** One record as a preference pair, or the reason it is malformed. */
export function parsePreferenceRecord(rec: unknown, where: string): PreferencePair | string {
  if (!rec || typeof rec !== 'object' || Array.isArray(rec)) return 'not a JSON object';
  const r = rec as Record<string, unknown>;
  if (r.chosen === undefined || r.rejected === undefined) return 'missing chosen or rejected';
  let pair: { messages: ChatMessage[]; chosen: string; rejected: string };
  if (r.prompt !== undefined) {
    const messages = promptMessages(r);
    if (typeof messages === 'string') return messages;
    const c = responseText(r.chosen, 'chosen'), j = responseText(r.rejected, 'rejected');
    if (typeof c !== 'string') return c.error;
    if (typeof j !== 'string') return j.error;
    pair = { messages, chosen: c, rejected: j };
  } else if (typeof r.chosen === 'string' && typeof r.rejected === 'string') {
    const s = splitHhPair(r.chosen, r.rejected);
    if (typeof s === 'string') return s;
    pair = s;
  } else {
    const c = asMessages(r.chosen), j = asMessages(r.rejected);
    if (typeof c === 'string') return `chosen: ${c}`;
    if (typeof j === 'string') return `rejected: ${j}`;
    const s = splitShared(c, j);
    if (typeof s === 'string') return s;
    pair = s;
  }
  const out: PreferencePair = { ...pair, where };
  if (r.gap !== undefined) {
    if (!Number.isInteger(r.gap) || (r.gap as number) < 1 || (r.gap as number) > 5) return 'gap must be an integer 1–5';
    out.gap = r.gap as number;
  }
  if (r.margin !== undefined) {
    if (typeof r.margin !== 'number' || !Number.isFinite(r.margin)) return 'margin must be a finite number';
    out.margin = r.margin;
  }
  return out;
}

export function readPreferencePairs(files: string | readonly string[], report: ReadReport = { records: 0, skipped: [] }): { pairs: PreferencePair[]; report: ReadReport } {
  const pairs: PreferencePair[] = [];
  for (const file of typeof files === 'string' ? [files] : files) {
    for (const { rec, line } of readJsonRecords(file, report)) {
      const p = parsePreferenceRecord(rec, `${file}:${line}`);
      if (typeof p === 'string') report.skipped.push({ file, line, reason: p });
      else { pairs.push(p); report.records++; }
    }
  }
  return { pairs, report };
}

/** Prompts (message lists ending on a user turn) for PPO rollouts. */
export function readPrompts(file: string, report: ReadReport = { records: 0, skipped: [] }): { prompts: ChatMessage[][]; report: ReadReport } {
  const prompts: ChatMessage[][] = [];
  for (const { rec, line } of readJsonRecords(file, report)) {
    const r = rec as Record<string, unknown> | null;
    let m: ChatMessage[] | string;
    if (!r || typeof r !== 'object' || Array.isArray(r)) m = 'not a JSON object';
    else if (r.chosen !== undefined) { const p = parsePreferenceRecord(r, `${file}:${line}`); m = typeof p === 'string' ? p : p.messages; }
    else if (r.messages !== undefined) {
      m = asMessages(r.messages);
      if (typeof m !== 'string' && (!m.length || m[m.length - 1]!.role !== 'user')) m = 'messages must end on a user turn';
    } else if (r.prompt !== undefined) m = promptMessages(r);
    else m = 'no prompt, messages or chosen/rejected field';
    if (typeof m === 'string') report.skipped.push({ file, line, reason: m });
    else { prompts.push(m); report.records++; }
  }
  return { prompts, report };
}

export interface EncodeOptions {
  encode: (text: string) => number[];
  eosTokenId: number;
  /** Longest prompt + response (default 512, the official model_max_length of fine-tuning). */
  maxLength: number;
  /** The prompt keeps at least this many tokens when responses are long (default maxLength / 2). */
  maxPromptLength?: number;
}

export interface EncodedPair {
  prompt: number[];
  chosen: number[];
  rejected: number[];
  margin: number;
  gap?: number;
  where: string;
  /** A response lost its tail (and eos) to maxLength. */
  truncated: boolean;
}

/** Prompt tokens of a conversation (the chat format, left-truncated to `budget`). */
export function encodePrompt(messages: readonly ChatMessage[], encode: (t: string) => number[], budget: number): number[] {
  return buildChatInput(messages, encode, { modelMaxLength: budget, maxNewTokens: 0 });
}

export function encodePair(p: PreferencePair, o: EncodeOptions): EncodedPair {
  const c = [...o.encode(p.chosen), o.eosTokenId], r = [...o.encode(p.rejected), o.eosTokenId];
  const minPrompt = o.maxPromptLength ?? Math.floor(o.maxLength / 2);
  const budget = Math.max(minPrompt, o.maxLength - Math.max(c.length, r.length));
  const prompt = encodePrompt(p.messages, o.encode, Math.min(budget, o.maxLength - 1));
  const room = o.maxLength - prompt.length;
  const truncated = c.length > room || r.length > room;
  return { prompt, chosen: c.slice(0, room), rejected: r.slice(0, room), margin: p.margin ?? 0, ...(p.gap !== undefined ? { gap: p.gap } : {}), where: p.where, truncated };
}

/** Malformed records per reason, with the first few places, for the run log. */
export function describeSkipped(report: ReadReport, max = 3): string {
  if (!report.skipped.length) return '';
  const by = new Map<string, Skipped[]>();
  for (const s of report.skipped) by.set(s.reason, [...(by.get(s.reason) ?? []), s]);
  return [...by].map(([reason, list]) => `${list.length} × ${reason} (${list.slice(0, max).map((s) => `${s.file}:${s.line}`).join(', ')}${list.length > max ? ', …' : ''})`).join('; ');
}
