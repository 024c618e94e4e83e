// OpenAI request bodies, validated once at the HTTP edge with zod. Unknown or
// unsupported fields (tools, response_format, logit_bias, ...) are refused with
// a 400 that names them, never silently accepted. Errors have OpenAI's shape.
import { z } from 'zod';

export interface ApiError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function apiError(message: string, type = 'invalid_request_error', param: string | null = null, code: string | null = null): ApiError {
  return { error: { message, type, param, code } };
}

const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullable().optional();
const common = {
  model: z.string().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).lte(1).nullable().optional(),
  n: z.number().int().min(1).max(16).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).strict().nullable().optional(),
  stop,
  seed: z.number().int().nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  user: z.string().optional(),
  // extensions (llama.cpp / vLLM names)
  top_k: z.number().int().min(0).nullable().optional(),
  repetition_penalty: z.number().positive().max(10).nullable().optional(),
};

const textPart = z.object({ type: z.literal('text'), text: z.string() }).strict();
const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart)]),
  name: z.string().optional(),
}).strict();

export const ChatCompletionBody = z.object({
  ...common,
  messages: z.array(message).min(1),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
}).strict();

export const CompletionBody = z.object({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).length(1), z.array(z.number().int().nonnegative()).min(1)]),
  logprobs: z.number().int().min(0).max(5).nullable().optional(),
  echo: z.literal(false).optional(),
}).strict();

export const TokenizeBody = z.union([
  z.object({ content: z.string(), model: z.string().optional() }).strict(),
  z.object({ messages: z.array(message).min(1), model: z.string().optional() }).strict(),
]);

export const DetokenizeBody = z.object({ tokens: z.array(z.number().int().nonnegative()), model: z.string().optional() }).strict();

export type ChatCompletionBody = z.infer<typeof ChatCompletionBody>;
export type CompletionBody = z.infer<typeof CompletionBody>;

/** A zod failure as one OpenAI error naming the field (unknown fields: all of them). */
export function zodError(e: z.ZodError): ApiError {
  for (const i of e.issues) {
    if (i.code === 'unrecognized_keys') {
      const where = i.path.length ? ` in ${i.path.join('.')}` : '';
      return apiError(`unsupported field${i.keys.length > 1 ? 's' : ''}${where}: ${i.keys.join(', ')} (this server does not implement ${i.keys.length > 1 ? 'them' : 'it'})`, 'invalid_request_error', i.keys[0]!, 'unsupported_field');
    }
  }
  const i = e.issues[0]!;
  let issue = i;
  if (i.code === 'invalid_union' && i.unionErrors.length) issue = i.unionErrors[i.unionErrors.length - 1]!.issues[0] ?? i;
  const param = issue.path.join('.') || i.path.join('.') || null;
  return apiError(`${param ?? 'body'}: ${issue.message}`, 'invalid_request_error', param, 'invalid_value');
}

/** Message content as text (text parts joined). */
export function contentText(c: string | { type: 'text'; text: string }[]): string {
  return typeof c === 'string' ? c : c.map((p) => p.text).join('');
}
