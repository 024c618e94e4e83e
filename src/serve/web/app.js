// The web chat page: streams replies from /v1/chat/completions (SSE over fetch),
// keeps the conversation, and shows tokens/s. No dependencies, works offline.
const $ = (id) => document.getElementById(id);
const history = [];
let controller = null;

for (const id of ['temperature', 'top_p']) {
  const input = $(id), out = $(id + '-out');
  input.addEventListener('input', () => { out.textContent = input.value; });
}

function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = $('api_key').value.trim();
  if (key) h.Authorization = 'Bearer ' + key;
  return h;
}

async function loadModel() {
  try {
    const r = await fetch('/v1/models', { headers: headers() });
    const j = await r.json();
    $('model').textContent = r.ok ? `model: ${j.data[0].id} (${j.data[0].context_length} tokens)` : (j.error && j.error.message) || 'unavailable';
  } catch (e) {
    $('model').textContent = 'server unreachable';
  }
}

function addMessage(role, text) {
  const div = document.createElement('div');
  div.className = 'msg ' + role;
  const r = document.createElement('span');
  r.className = 'role';
  r.textContent = role;
  const body = document.createElement('span');
  body.className = 'content';
  body.textContent = text;
  div.append(r, body);
  $('messages').append(div);
  div.scrollIntoView({ block: 'end' });
  return div;
}

function setBusy(busy) {
  $('send').disabled = busy;
  $('stop').disabled = !busy;
}

function numberField(id) {
  const v = $(id).value.trim();
  return v === '' ? undefined : Number(v);
}

async function send(text) {
  history.push({ role: 'user', content: text });
  addMessage('user', text);
  const div = addMessage('assistant', '');
  const body = div.querySelector('.content');
  const messages = [];
  const system = $('system').value.trim();
  if (system) messages.push({ role: 'system', content: system });
  messages.push(...history);
  const req = {
    messages, stream: true, stream_options: { include_usage: true },
    temperature: numberField('temperature'), top_p: numberField('top_p'), top_k: numberField('top_k'),
    repetition_penalty: numberField('repetition_penalty'), max_tokens: numberField('max_tokens'), seed: numberField('seed'),
  };
  controller = new AbortController();
  setBusy(true);
  $('status').className = 'muted';
  $('status').textContent = 'generating…';
  let reply = '', tokens = 0, first = 0, finish = '';
  const t0 = performance.now();
  try {
    const r = await fetch('/v1/chat/completions', { method: 'POST', headers: headers(), body: JSON.stringify(req), signal: controller.signal });
    if (!r.ok) {
      const j = await r.json().catch(() => ({}));
      throw new Error((j.error && j.error.message) || `HTTP ${r.status}`);
    }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!event.startsWith('data: ')) continue;
        const data = event.slice(6);
        if (data === '[DONE]') continue;
        const j = JSON.parse(data);
        if (j.error) throw new Error(j.error.message);
        for (const c of j.choices) {
          if (c.delta && c.delta.content) {
            if (!first) first = performance.now();
            reply += c.delta.content;
            body.textContent = reply;
            div.scrollIntoView({ block: 'end' });
          }
          if (c.finish_reason) finish = c.finish_reason;
        }
        if (j.usage) tokens = j.usage.completion_tokens;
        if (j.usage && j.usage.timings) div.dataset.decodeTps = String(j.usage.timings.decodeTokensPerSecond);
      }
    }
    const secs = (performance.now() - (first || t0)) / 1000;
    const tps = tokens > 1 && secs > 0 ? ((tokens - 1) / secs).toFixed(1) : '–';
    addMeta(div, `${tokens} tokens · ${tps} tokens/s · first token ${((first - t0) / 1000).toFixed(2)} s · ${finish}`);
    $('status').textContent = '';
  } catch (e) {
    if (e.name === 'AbortError') {
      addMeta(div, 'stopped');
      $('status').textContent = 'stopped';
    } else {
      $('status').className = 'error';
      $('status').textContent = e.message;
      addMeta(div, 'error');
    }
  } finally {
    history.push({ role: 'assistant', content: reply });
    controller = null;
    setBusy(false);
  }
}

function addMeta(div, text) {
  const m = document.createElement('span');
  m.className = 'meta';
  m.textContent = text;
  div.append(m);
}

$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('input').value.trim();
  if (!text || controller) return;
  $('input').value = '';
  void send(text);
});
$('input').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); $('composer').requestSubmit(); }
});
$('stop').addEventListener('click', () => { if (controller) controller.abort(); });
$('new-chat').addEventListener('click', () => {
  if (controller) controller.abort();
  history.length = 0;
  $('messages').replaceChildren();
  $('status').textContent = 'new chat';
});
$('api_key').addEventListener('change', loadModel);
void loadModel();
