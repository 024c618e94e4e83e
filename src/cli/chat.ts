// `baichuan2 chat`: interactive chat in Baichuan 2's format, streaming replies.
// A client of the serving Engine (the model runs in its worker thread), with
// Baichuan's own history policy: the oldest rounds are dropped to fit the
// context, and the user is told when that happens.
import readline from 'node:readline';
import type { Command } from 'commander';
import type { ChatMessage } from '../infer/chat-format.js';
import { Engine } from '../serve/engine.js';
import { addSamplingFlags, samplingFrom, type SamplingFlags } from './generate.js';
import { requireDir, requireModel } from './common.js';

export function registerChat(program: Command): void {
  addSamplingFlags(program
    .command('chat')
    .description('interactive chat (/reset clears the history, /exit quits)')
    .requiredOption('--model <dir>', 'model folder (with tokenizer.model)')
    .option('--system <text>', 'system prompt')
    .option('--tokenizer <file>', 'tokenizer.model (default: the model folder\'s)')
    .option('--adapter <dir>', 'a LoRA adapter folder (PEFT layout) on top of the model'))
    .action(async (o: SamplingFlags & { model: string; system?: string; tokenizer?: string; adapter?: string }) => {
      const dir = requireModel(o.model, '--model');
      const s = samplingFrom({ maxNewTokens: '512', ...o }, dir);
      const engine = new Engine({ model: dir, tokenizer: o.tokenizer, adapter: o.adapter === undefined ? undefined : requireDir(o.adapter, '--adapter'), parallel: 1, maxQueue: 0 });
      try {
        await engine.ready;
      } catch (e) {
        await engine.close();
        throw e;
      }
      const history: ChatMessage[] = [];
      const rl = readline.createInterface({ input: process.stdin, terminal: false });
      const lines = rl[Symbol.asyncIterator]();  // buffers piped input while a reply is generated
      console.log('Baichuan 2 chat. /reset clears the history, /exit quits.');
      let seed = s.seed;
      try {
        for (;;) {
          process.stdout.write('user> ');
          const next = await lines.next();
          if (next.done) { process.stdout.write('\n'); break; }
          const line = next.value;
          if (!process.stdin.isTTY) process.stdout.write(line + '\n');
          if (line.trim() === '/exit') break;
          if (line.trim() === '/reset') { history.length = 0; console.log('(history cleared)'); continue; }
          if (!line.trim()) continue;
          history.push({ role: 'user', content: line });
          const messages: ChatMessage[] = o.system ? [{ role: 'system', content: o.system }, ...history] : history;
          const stream = engine.chatCompletion({
            messages, fitContext: true, maxTokens: s.maxNewTokens || undefined, seed: seed++,
            greedy: s.greedy, temperature: s.temperature, topK: s.topK, topP: s.topP, repetitionPenalty: s.repetitionPenalty,
          });
          let reply = '';
          for await (const c of stream) {
            if (c.type === 'start' && (c.droppedMessages > 0 || c.truncatedTokens > 0)) {
              const parts: string[] = [];
              if (c.droppedMessages) parts.push(`the oldest ${c.droppedMessages} message${c.droppedMessages > 1 ? 's' : ''} of the history ${c.droppedMessages > 1 ? 'were' : 'was'} left out`);
              if (c.truncatedTokens) parts.push(`${c.truncatedTokens} tokens were cut from the start of the prompt`);
              console.log(`(to fit the context of ${engine.contextLength} tokens, ${parts.join(' and ')})`);
            }
            else if (c.type === 'delta') {
              if (!reply) process.stdout.write('assistant> ');
              reply += c.text;
              process.stdout.write(c.text);
            }
          }
          if (!reply) process.stdout.write('assistant> ');
          process.stdout.write('\n');
          history.push({ role: 'assistant', content: reply });
        }
      } finally {
        rl.close();
        await engine.close();
      }
    });
}
