// Worker thread for `prepare`: loads the tokenizer once, then encodes batches
// of documents sent by the main thread, appending EOS to each.
import { parentPort, workerData } from 'node:worker_threads';
import { loadTokenizer } from '../io/tokenizer-file.js';

const { tokenizer, eos } = workerData as { tokenizer: string; eos: number };
const tok = loadTokenizer(tokenizer);

parentPort!.on('message', (msg: { id: number; texts: string[] }) => {
  let n = 0;
  const parts = msg.texts.map((t) => { const ids = tok.encode(t); n += ids.length + 1; return ids; });
  const out = new Uint32Array(n);
  let off = 0;
  for (const ids of parts) { out.set(ids, off); off += ids.length; out[off++] = eos; }
  parentPort!.postMessage({ id: msg.id, tokens: out }, [out.buffer]);
});
