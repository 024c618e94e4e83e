// Baichuan 2's chat prompt (generation_utils.build_chat_input, SPEC §12):
// [system ids] then rounds oldest-to-newest of (195 user ids [196 assistant ids]),
// then 196 when the last message is not the assistant's. Rounds are taken
// newest first while they fit in max_input_tokens - len(system) (the newest
// round always), and the result is truncated from the left.
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatFormatOptions {
  userTokenId?: number;       // 195
  assistantTokenId?: number;  // 196
  modelMaxLength: number;     // 4096
  maxNewTokens: number;       // generation_config.max_new_tokens (2048)
}

export function buildChatInput(messages: readonly ChatMessage[], encode: (text: string) => number[], o: ChatFormatOptions): number[] {
  return fitChatInput(messages, encode, o).ids;
}

export interface FittedChatInput {
  ids: number[];
  /** Messages (oldest rounds first) left out to fit max_input_tokens. */
  droppedMessages: number;
  /** Tokens then cut from the left (into the system prompt or the newest round). */
  truncatedTokens: number;
}

/** buildChatInput, also saying what was left out, so a caller can tell the user. */
export function fitChatInput(messages: readonly ChatMessage[], encode: (text: string) => number[], o: ChatFormatOptions): FittedChatInput {
  if (messages.length === 0) throw new Error('chat: no messages');
  const user = o.userTokenId ?? 195, assistant = o.assistantTokenId ?? 196;
  const maxInput = o.modelMaxLength - o.maxNewTokens;
  if (maxInput <= 0) throw new RangeError(`chat: max_new_tokens ${o.maxNewTokens} leaves no room for input in a context of ${o.modelMaxLength}`);
  let system: number[] = [];
  let rest = messages;
  if (messages.length && messages[0]!.role === 'system') {
    system = encode(messages[0]!.content);
    rest = messages.slice(1);
  }
  const rounds: ChatMessage[][] = [];
  for (const m of rest) {
    if (m.role === 'system') throw new Error('chat: a system message may only come first');
    if (m.role === 'user' || rounds.length === 0) rounds.push([m]);
    else rounds[rounds.length - 1]!.push(m);
  }
  const maxHistory = maxInput - system.length;
  let history: number[] = [];
  let kept = 0;
  for (let r = rounds.length - 1; r >= 0; r--) {
    const ids: number[] = [];
    for (const m of rounds[r]!) ids.push(m.role === 'user' ? user : assistant, ...encode(m.content));
    if (history.length === 0 || ids.length + history.length <= maxHistory) { history = ids.concat(history); kept += rounds[r]!.length; }
    else break;
    if (history.length >= maxHistory) break;
  }
  let input = system.concat(history);
  if (messages[messages.length - 1]!.role !== 'assistant') input.push(assistant);
  const truncatedTokens = Math.max(0, input.length - maxInput);
  if (truncatedTokens) input = input.slice(truncatedTokens);
  return { ids: input, droppedMessages: rest.length - kept, truncatedTokens };
}
