// `baichuan2 chat`: interactive chat in Baichuan 2's format, streaming replies.
import readline from 'node:readline';
import type { Command } from 'commander';
import { buildChatInput, type ChatMessage } from '../infer/chat-format.js';
import { streamText } from '../infer/stream.js';
import { addSamplingFlags, samplingFrom, type SamplingFlags } from './generate.js';
import { openModel, openTokenizer, requireModel } from './common.js';

export function registerChat(program: Command): void {
  addSamplingFlags(program
    .command('chat')
    .description('interactive chat (/reset clears the history, /exit quits)')
    .requiredOption('--model <dir>', 'model folder (with tokenizer.model)')
    .option('--system <text>', 'system prompt')
    .option('--tokenizer <file>', 'tokenizer.model (default: the model folder\'s)'))
    .action(async (o: SamplingFlags & { model: string; system?: string; tokenizer?: string }) => {
      const dir = requireModel(o.model, '--model');
      const s = samplingFrom({ maxNewTokens: '512', ...o }, dir);
      const model = openModel(dir);
      const tok = openTokenizer(dir, o.tokenizer);
      const history: ChatMessage[] = [];
      const rl = readline.createInterface({ input: process.stdin, terminal: false });
      const lines = rl[Symbol.asyncIterator]();  // buffers piped input while a reply is generated
      console.log('Baichuan 2 chat. /reset clears the history, /exit quits.');
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
        const maxNew = Math.min(s.maxNewTokens, model.config.modelMaxLength - 1);
        const ids = buildChatInput(messages, (t) => tok.encode(t), { modelMaxLength: model.config.modelMaxLength, maxNewTokens: maxNew });
        process.stdout.write('assistant> ');
        const it = streamText(model, tok, ids, { ...s, maxNewTokens: maxNew });
        let r = await it.next();
        while (!r.done) { process.stdout.write(r.value); r = await it.next(); }
        process.stdout.write('\n');
        history.push({ role: 'assistant', content: r.value.text });
      }
      rl.close();
    });
}
