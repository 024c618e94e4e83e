// Worker thread that decodes a Parquet file for the document reader, one row
// group per request. It exists so that a corrupt file which sends the decoder
// (hyparquet) into an endless loop can be stopped: the reader terminates the
// worker when a row group takes longer than its time limit (found by fuzzing:
// a mutated file hung the process for good).
import { parentPort, workerData } from 'node:worker_threads';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';

interface Init { file: string; sourceField: string }
const { file, sourceField } = workerData as Init;
const port = parentPort!;

async function main(): Promise<void> {
  let buf, meta;
  try {
    buf = await asyncBufferFromFile(file);
    meta = await parquetMetadataAsync(buf);
  } catch (e) {
    port.postMessage({ kind: 'error', message: `not a readable Parquet file (${(e as Error).message})` });
    return;
  }
  const has = (name: string) => meta.schema.some((el) => el.name === name);
  if (!has('text')) { port.postMessage({ kind: 'error', message: 'Parquet file has no "text" column' }); return; }
  const columns = ['text', ...(has(sourceField) ? [sourceField] : []), ...(has('weight') ? ['weight'] : [])];
  const groups = meta.row_groups.map((rg) => Number(rg.num_rows));
  port.postMessage({ kind: 'meta', groups: groups.length });
  let row = 0, g = 0;
  port.on('message', async () => {
    if (g >= groups.length) { port.postMessage({ kind: 'done' }); return; }
    const n = groups[g++]!;
    try {
      const rows = (await parquetReadObjects({ file: buf, metadata: meta, columns, rowStart: row, rowEnd: row + n })) as Record<string, unknown>[];
      // plain values only across the thread boundary
      port.postMessage({ kind: 'rows', start: row, rows: rows.map((r) => ({ text: r.text, source: r[sourceField], weight: typeof r.weight === 'bigint' ? Number(r.weight) : r.weight })) });
    } catch (e) {
      port.postMessage({ kind: 'error', message: `row group at row ${row} is unreadable (${(e as Error).message}); the Parquet file is corrupt` });
    }
    row += n;
  });
}

void main();
