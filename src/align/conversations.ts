// Conversation data for fine-tuning: one reader for the formats people have,
// normalised to a list of turns in the official fine-tune script's terms.
//   official  {"id", "conversations": [{"from": "human"|"gpt"|..., "value"}]}
//             (as baichuan-inc/Baichuan2 fine-tune/fine-tune.py reads it: any
//             `from` other than "human" is an assistant turn)
//   openai    {"messages": [{"role": "system"|"user"|"assistant", "content"}]}
//             (a system message only first, as build_chat_input allows)
//   alpaca    {"instruction", "input"?, "output"}: one user turn (instruction,
//             then "\n" and the input when it is non-empty) and one assistant turn
//   hh        {"chosen": "\n\nHuman: ...\n\nAssistant: ..."} (Anthropic HH; also
//             a bare string or a "text" field in that layout)
// Files: .json (an array of records, or one record), .jsonl, .jsonl.gz,
// .json.gz and .parquet (one record a row; list/struct columns as hyparquet
// decodes them). A malformed record is counted and named (file:line, or
// file:index for a .json array, file:row for Parquet) and skipped, never fatal.
// Not a tokenizer: src/align/labels.ts turns a Conversation into ids.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';

export type ConversationFormat = 'official' | 'openai' | 'alpaca' | 'hh';

export interface Turn {
  /** 'user' is the official script's "human"; everything else is the assistant. */
  role: 'user' | 'assistant';
  content: string;
}

export interface Conversation {
  id: string;
  /** OpenAI format only: a leading system message, encoded at the front with labels -100. */
  system?: string;
  turns: Turn[];
  /** Where it came from, for messages: `file:line`. */
  where: string;
}

export interface ConversationReadStats {
  conversations: number;
  formats: Partial<Record<ConversationFormat, number>>;
  skipped: { file: string; line: number; reason: string }[];
}

export function newConversationStats(): ConversationReadStats {
  return { conversations: 0, formats: {}, skipped: [] };
}

export const CONVERSATION_INPUT = /\.(json|jsonl|jsonl\.gz|json\.gz|parquet)$/;

export interface ConversationReadOptions {
  /** HH records with both: which text to read (default 'chosen'). */
  hhField?: 'chosen' | 'rejected';
}

class Malformed extends Error {}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new Malformed(`${what} is not a string`);
  return v;
}

/** Split an HH dialogue "\n\nHuman: a\n\nAssistant: b ..." into turns. */
export function parseHhText(text: string): Turn[] {
  const re = /\n\n(Human|Assistant): /g;
  const marks: { role: Turn['role']; at: number; end: number }[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) marks.push({ role: m[1] === 'Human' ? 'user' : 'assistant', at: m.index, end: m.index + m[0].length });
  if (!marks.length || text.slice(0, marks[0]!.at).trim() !== '') throw new Malformed('HH text does not start with "\\n\\nHuman: "');
  return marks.map((mk, i) => ({ role: mk.role, content: text.slice(mk.end, i + 1 < marks.length ? marks[i + 1]!.at : text.length) }));
}

/** One record (any supported format) to a conversation; throws Malformed naming the problem. */
export function toConversation(rec: unknown, where: string, id: string, o: ConversationReadOptions = {}): { conv: Conversation; format: ConversationFormat } {
  if (typeof rec === 'string') return { conv: { id, turns: parseHhText(rec), where }, format: 'hh' };
  if (!rec || typeof rec !== 'object' || Array.isArray(rec)) throw new Malformed('record is not a JSON object');
  const r = { ...(rec as Record<string, unknown>) };
  // Parquet exports often hold the nested list as a JSON string column
  for (const k of ['conversations', 'messages'])
    if (typeof r[k] === 'string') { try { r[k] = JSON.parse(r[k] as string); } catch { throw new Malformed(`"${k}" is a string that is not JSON`); } }
  const recId = typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : id;
  if (r.conversations !== undefined) {
    if (!Array.isArray(r.conversations)) throw new Malformed('"conversations" is not an array');
    const turns = r.conversations.map((m, i) => {
      if (!m || typeof m !== 'object') throw new Malformed(`conversations[${i}] is not an object`);
      const mm = m as Record<string, unknown>;
      const from = str(mm.from, `conversations[${i}].from`);
      return { role: from === 'human' ? 'user' : 'assistant', content: str(mm.value, `conversations[${i}].value`) } as Turn;
    });
    return { conv: { id: recId, turns, where }, format: 'official' };
  }
  if (r.messages !== undefined) {
    if (!Array.isArray(r.messages)) throw new Malformed('"messages" is not an array');
    let system: string | undefined;
    const turns: Turn[] = [];
    r.messages.forEach((m, i) => {
      if (!m || typeof m !== 'object') throw new Malformed(`messages[${i}] is not an object`);
      const mm = m as Record<string, unknown>;
      const role = str(mm.role, `messages[${i}].role`);
      const content = str(mm.content, `messages[${i}].content`);
      if (role === 'system') {
        if (i !== 0) throw new Malformed(`messages[${i}]: a system message may only come first`);
        system = content;
      } else if (role === 'user' || role === 'assistant') turns.push({ role, content });
      else throw new Malformed(`messages[${i}].role '${role}' is not system, user or assistant`);
    });
    return { conv: { id: recId, ...(system !== undefined ? { system } : {}), turns, where }, format: 'openai' };
  }
  if (r.instruction !== undefined || r.output !== undefined) {
    const instruction = str(r.instruction, '"instruction"');
    const input = r.input === undefined || r.input === null ? '' : str(r.input, '"input"');
    const output = str(r.output, '"output"');
    return { conv: { id: recId, turns: [{ role: 'user', content: input ? `${instruction}\n${input}` : instruction }, { role: 'assistant', content: output }], where }, format: 'alpaca' };
  }
  const hh = r[o.hhField ?? 'chosen'] ?? r.text;
  if (hh !== undefined) return { conv: { id: recId, turns: parseHhText(str(hh, `"${o.hhField ?? 'chosen'}"`)), where }, format: 'hh' };
  throw new Malformed('no "conversations", "messages", "instruction"/"output" or "chosen"/"text" field');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Records of one file with their line (1-based; array index + 1 for .json, row for Parquet). */
async function* records(file: string, stats: ConversationReadStats): AsyncGenerator<{ rec: unknown; line: number }> {
  const skip = (line: number, reason: string) => { stats.skipped.push({ file, line, reason }); };
  if (file.endsWith('.parquet')) {
    let buf, meta;
    try {
      buf = await asyncBufferFromFile(file);
      meta = await parquetMetadataAsync(buf);
    } catch (e) {
      throw new Error(`${file}: not a readable Parquet file (${(e as Error).message})`);
    }
    let row = 0;
    for (const rg of meta.row_groups) {
      const n = Number(rg.num_rows);
      const rows = (await parquetReadObjects({ file: buf, metadata: meta, rowStart: row, rowEnd: row + n })) as unknown[];
      for (const r of rows) yield { rec: r, line: ++row };
    }
    return;
  }
  let bytes: Buffer = fs.readFileSync(file);
  if (file.endsWith('.gz')) {
    try { bytes = zlib.gunzipSync(bytes); } catch (e) {
      // keep what decompressed before the damage
      try { bytes = zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH }); } catch { bytes = Buffer.alloc(0); }
      skip(0, `corrupt gzip (${(e as Error).message}); records after the damage are lost`);
    }
  }
  const isArrayFile = file.endsWith('.json') || file.endsWith('.json.gz');
  let text: string;
  if (isArrayFile) {
    try { text = utf8.decode(bytes); } catch { skip(1, 'invalid UTF-8 (whole file)'); return; }
    let j: unknown;
    try { j = JSON.parse(text); } catch (e) {
      // a .json file may also be JSON Lines
      if (text.trimStart().startsWith('[')) { skip(1, `invalid JSON (${(e as Error).message})`); return; }
      yield* lines(bytes, skip);
      return;
    }
    if (Array.isArray(j)) { for (let i = 0; i < j.length; i++) yield { rec: j[i], line: i + 1 }; }
    else yield { rec: j, line: 1 };
    return;
  }
  yield* lines(bytes, skip);
}

function* lines(bytes: Buffer, skip: (line: number, reason: string) => void): Generator<{ rec: unknown; line: number }> {
  let start = 0, lineNo = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    lineNo++;
    const raw = bytes.subarray(start, end);
    start = end + 1;
    let line: string;
    try { line = utf8.decode(raw); } catch { skip(lineNo, 'invalid UTF-8'); continue; }
    if (!line.trim()) continue;
    let rec: unknown;
    try { rec = JSON.parse(line); } catch { skip(lineNo, 'invalid JSON'); continue; }
    yield { rec, line: lineNo };
  }
}

/** Stream the conversations of `files`, in order; malformed records land in `stats.skipped`. */
export async function* readConversations(files: readonly string[], stats: ConversationReadStats = newConversationStats(), o: ConversationReadOptions = {}): AsyncGenerator<Conversation> {
  for (const file of files) {
    if (!fs.existsSync(file)) throw new Error(`${file}: conversation data not found`);
    if (!CONVERSATION_INPUT.test(file)) throw new Error(`${file}: unsupported input type (expected .json, .jsonl, .jsonl.gz or .parquet)`);
    for await (const { rec, line } of records(file, stats)) {
      const where = `${file}:${line}`;
      try {
        const { conv, format } = toConversation(rec, where, `${stats.conversations}`, o);
        if (!conv.turns.length) throw new Malformed('conversation has no turns');
        stats.conversations++;
        stats.formats[format] = (stats.formats[format] ?? 0) + 1;
        yield conv;
      } catch (e) {
        if (!(e instanceof Malformed)) throw e;
        stats.skipped.push({ file, line, reason: e.message });
      }
    }
  }
}

export async function collectConversations(files: readonly string[], stats: ConversationReadStats = newConversationStats(), o: ConversationReadOptions = {}): Promise<Conversation[]> {
  const out: Conversation[] = [];
  for await (const c of readConversations(files, stats, o)) out.push(c);
  return out;
}

/** "3 records skipped: a.jsonl:4 invalid JSON; ..." (the first few named), or '' when none. */
export function describeSkipped(stats: ConversationReadStats, show = 5): string {
  const s = stats.skipped;
  if (!s.length) return '';
  const named = s.slice(0, show).map((k) => `${k.file}:${k.line} ${k.reason}`).join('; ');
  return `${s.length} record${s.length > 1 ? 's' : ''} skipped: ${named}${s.length > show ? `; … (${s.length - show} more)` : ''}`;
}
