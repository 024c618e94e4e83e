// `baichuan2 serve`: the OpenAI-compatible server and web chat page (src/serve).
import path from 'node:path';
import type { Command } from 'commander';
import { Engine } from '../serve/engine.js';
import { startServer } from '../serve/server.js';
import { UsageError, parseIntFlag } from './flags.js';
import { requireModel } from './common.js';

interface ServeFlags {
  model: string; tokenizer?: string; adapter?: string; host: string; port: string; parallel: string; apiKey?: string; cors?: string;
  ctx?: string; maxQueue: string; maxBody: string; maxTokens?: string; modelName?: string; dtype?: string; threads?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('OpenAI-compatible HTTP server with continuous batching, and a web chat page at /')
    .requiredOption('--model <dir>', 'model folder (with tokenizer.model; quantised folders work)')
    .option('--tokenizer <file>', 'tokenizer.model (default: the model folder\'s)')
    .option('--adapter <dir>', 'LoRA adapter folder, applied when the engine loads the model')
    .option('--host <addr>', 'address to bind (0.0.0.0 exposes the server to the network)', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', '8080')
    .option('--parallel <n>', 'sequences decoded together (KV slots)', '4')
    .option('--api-key <key>', 'require Authorization: Bearer KEY on every /v1 route (default: $BAICHUAN2_API_KEY if set)')
    .option('--cors <origin>', 'allow this browser origin (no CORS headers otherwise)')
    .option('--ctx <n>', 'positions per slot (default: the model\'s context; memory is 8 * layers * hidden * ctx bytes per slot)')
    .option('--max-queue <n>', 'sequences that may wait for a slot before requests get 429', '64')
    .option('--max-body <bytes>', 'request body cap (413 beyond)', String(1 << 20))
    .option('--max-tokens <n>', 'largest max_tokens a request may ask for (default: the context)')
    .option('--model-name <id>', 'model id in the API (default: the folder name)')
    .option('--dtype <dtype>', 'convert float weights to f32 or bf16 on load')
    .option('--threads <n>', 'kernel threads of the engine (default: all cores)')
    .action(async (o: ServeFlags) => {
      const dir = requireModel(o.model, '--model');
      if (o.dtype !== undefined && o.dtype !== 'f32' && o.dtype !== 'bf16') throw new UsageError(`--dtype must be f32 or bf16, got '${o.dtype}'`);
      const engine = new Engine({
        model: dir, tokenizer: o.tokenizer, adapter: o.adapter, parallel: parseIntFlag(o.parallel, '--parallel', 1, 256),
        ctx: o.ctx === undefined ? undefined : parseIntFlag(o.ctx, '--ctx', 2), maxQueue: parseIntFlag(o.maxQueue, '--max-queue', 0),
        maxTokensCap: o.maxTokens === undefined ? undefined : parseIntFlag(o.maxTokens, '--max-tokens', 1), dtype: o.dtype as 'f32' | 'bf16' | undefined,
        threads: o.threads === undefined ? undefined : parseIntFlag(o.threads, '--threads', 1, 1024),
      });
      const modelName = o.modelName ?? path.basename(path.resolve(dir));
      const apiKey = o.apiKey ?? process.env.BAICHUAN2_API_KEY;
      const srv = await startServer({ engine, modelName, host: o.host, port: parseIntFlag(o.port, '--port', 0, 65535), apiKey, cors: o.cors, maxBodyBytes: parseIntFlag(o.maxBody, '--max-body', 1) });
      console.log(`serving '${modelName}' at ${srv.url} (web chat at ${srv.url}/, API at ${srv.url}/v1${apiKey ? ', API key required' : ''}); loading the model...`);
      const t0 = performance.now();
      const stop = async () => { await srv.close(); await engine.close(); process.exit(0); };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
      try {
        await engine.ready;
      } catch (e) {
        await srv.close();
        await engine.close();
        throw new Error(`loading ${dir}: ${(e as Error).message}`);
      }
      console.log(`ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${engine.parallel} slots of ${engine.contextLength} positions`);
    });
}
