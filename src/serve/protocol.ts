// The typed messages between the Engine (main thread) and its worker thread,
// and the chunks an Engine stream yields. Plain data only (structured clone).
import type { SamplingOptions } from '../infer/sampling.js';

/** One generation job after validation and tokenisation (what the worker runs). */
export interface GenerationJob {
  prompt: number[];
  /** Choices: each is its own sequence with its own slot and seed (seed + index). */
  n: number;
  maxTokens: number;
  sampling: Required<SamplingOptions>;
  frequencyPenalty: number;
  presencePenalty: number;
  seed: number;
  stop: string[];
  /** Alternatives per token to report; null = no log-probabilities. */
  logprobs: number | null;
}

export interface TokenInfo {
  id: number;
  token: string;
  bytes: number[];
  logprob: number;
  top: { id: number; token: string; bytes: number[]; logprob: number }[];
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** Prefill and decode throughput of one request, reported separately. */
export interface Timings {
  promptTokens: number;
  prefillSeconds: number;
  prefillTokensPerSecond: number;
  decodeTokens: number;
  decodeSeconds: number;
  decodeTokensPerSecond: number;
}

export type FinishReason = 'stop' | 'length';

export type EngineChunk =
  /** First chunk: the prompt as the model sees it. */
  | { type: 'start'; promptTokens: number; droppedMessages: number; truncatedTokens: number }
  /** New text of choice `index` (never half a UTF-8 character; stop text never appears). */
  | { type: 'delta'; index: number; text: string; tokens: number[]; logprobs?: TokenInfo[] }
  | { type: 'finish'; index: number; finishReason: FinishReason }
  /** Last chunk. */
  | { type: 'usage'; usage: Usage; timings: Timings };

export interface WorkerInit {
  modelDir: string;
  tokenizer: string;
  slots: number;
  capacity: number;
  rowsPerForward?: number;
  dtype?: 'f32' | 'bf16';
  /** Kernel threads of the worker (default: all cores). */
  threads?: number;
  /** A LoRA adapter folder to apply after loading (see prepareModel in worker.ts). */
  adapter?: string;
}

export interface EngineStats {
  running: number;
  queued: number;
  batchSize: number;
  slots: number;
  prefillTokens: number;
  prefillSeconds: number;
  decodeTokens: number;
  decodeSeconds: number;
  steps: number;
}

export type ToWorker =
  | { type: 'submit'; id: number; job: GenerationJob }
  | { type: 'cancel'; id: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; vocabSize: number; loadSeconds: number }
  | { type: 'load-error'; message: string }
  /** Every chunk of one scheduler step, in order (one message per step, not per token). */
  | { type: 'chunks'; items: { id: number; chunk: EngineChunk }[] }
  | { type: 'failed'; id: number; message: string }
  | { type: 'stats'; stats: EngineStats };
