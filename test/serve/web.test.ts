// The web chat page in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core; no browser download): type a message and see the streamed
// reply, a second turn carries the history and the system prompt, stop a long
// reply (the slot is freed), start a new chat. Saves a screenshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { Engine } from '../../src/serve/engine.js';
import { startServer } from '../../src/serve/server.js';
import { modelDir } from './fixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT = path.resolve('dist/test-artifacts/web-chat.png');

test('web chat page: streamed reply, multi-turn with system prompt, stop, new chat', { skip: !fs.existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (apt-get install chromium)`, timeout: 60_000 }, async () => {
  // wide enough that a long reply takes seconds, so Stop lands mid-stream
  const engine = new Engine({ model: modelDir({ hidden_size: 512, intermediate_size: 1376, num_hidden_layers: 4, num_attention_heads: 8, model_max_length: 1024, max_position_embeddings: 1024 }), parallel: 2, threads: 1 });
  const srv = await startServer({ engine, modelName: 'tiny-web', port: 0 });
  let browser: Browser | null = null;
  try {
    await engine.ready;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
    const bodies: { messages: { role: string; content: string }[]; max_tokens?: number; stream: boolean }[] = [];
    page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) bodies.push(JSON.parse(r.postData() ?? '{}')); });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(srv.url + '/');
    await page.waitForFunction(() => document.getElementById('model')!.textContent!.startsWith('model: tiny-web'));

    const assistants = page.locator('.msg.assistant');
    await page.fill('#system', 'You are terse.');
    await page.fill('#max_tokens', '12');
    await page.fill('#input', 'Hello there!');
    await page.press('#input', 'Enter');
    await assistants.nth(0).locator('.meta').waitFor();
    const first = await assistants.nth(0).locator('.content').textContent();
    assert.ok(first && first.length > 0, 'a reply streamed in');
    // the page samples without a seed, so the random tiny model may end at eos before max_tokens
    const meta = (await assistants.nth(0).locator('.meta').textContent())!;
    const n = Number(/^(\d+) tokens · [\d.]+ tokens\/s/.exec(meta)?.[1]);
    assert.ok(n >= 1 && n <= 12, `token count in '${meta}'`);
    if (n < 12) assert.match(meta, /stop$/, 'fewer than max_tokens only when the model stopped');
    assert.equal(await page.locator('.msg.user .content').first().textContent(), 'Hello there!');

    await page.fill('#input', 'And then?');
    await page.click('#send');
    await assistants.nth(1).locator('.meta').waitFor();
    assert.deepEqual(bodies[1]!.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user'], 'the second turn sends the history');
    assert.equal(bodies[1]!.messages[0]!.content, 'You are terse.');
    assert.equal(bodies[1]!.messages[2]!.content, first);
    assert.equal(bodies[1]!.stream, true);

    // a long reply, stopped once it has started
    await page.fill('#max_tokens', '900');
    await page.fill('#input', 'Tell me a long story.');
    await page.click('#send');
    const third = assistants.nth(2).locator('.content');
    await page.waitForFunction(() => (document.querySelectorAll('.msg.assistant .content')[2]?.textContent ?? '').length > 5);
    assert.equal(await page.isDisabled('#stop'), false);
    await page.click('#stop');
    await assistants.nth(2).locator('.meta', { hasText: 'stopped' }).waitFor();
    const stoppedAt = await third.textContent();
    await page.waitForTimeout(300);
    assert.equal(await third.textContent(), stoppedAt, 'no text after Stop');
    for (let i = 0; i < 50 && engine.load > 0; i++) await page.waitForTimeout(20);
    assert.equal(engine.load, 0, 'the stopped request left the engine');
    assert.ok(engine.stats.decodeTokens < 800, 'the reply did not run to 900 tokens');
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });

    await page.click('#new-chat');
    assert.equal(await page.locator('.msg').count(), 0);
    await page.fill('#max_tokens', '4');
    await page.fill('#input', 'Fresh start');
    await page.press('#input', 'Enter');
    await assistants.nth(0).locator('.meta').waitFor();
    assert.deepEqual(bodies[bodies.length - 1]!.messages.map((m) => m.role), ['system', 'user'], 'a new chat has no history');
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await srv.close();
    await engine.close();
  }
});
