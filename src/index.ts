// baichuan2-ts: public API.
export * from './engine/index.js';
export { type BaichuanConfig, type PositionScheme, configFromJSON, configToJSON, ffnSize, PRESETS } from './model/config.js';
export { BaichuanForCausalLM, type ForwardOptions, type ForwardOutput, initTensor } from './model/baichuan.js';
export { KvCache } from './model/kv-cache.js';
export { loadModel, saveModel, readConfig, type LoadOptions, type SaveOptions } from './io/hf-folder.js';
export { readSafetensors, writeSafetensors, readSafetensorsHeader } from './io/safetensors.js';
export { readTorchBin } from './io/torch-bin.js';
export { loadTokenizer, BpeTokenizer, readModelFile, parseModel, serializeModel, PieceType } from './tokenizer/index.js';
export { generate, GenerationSession, type GenerateOptions, type GenerateResult } from './infer/generate.js';
export { streamText, DeltaDecoder } from './infer/stream.js';
export { buildChatInput, type ChatMessage } from './infer/chat-format.js';
export { sampleToken, applyRepetitionPenalty, BAICHUAN_CHAT_SAMPLING, type SamplingOptions } from './infer/sampling.js';
export { evaluate, ModelLM, runTask, loadTask, TASKS, corpusBleu, passAtK, runPython, type EvalLM, type TaskResult, type EvaluationReport } from './eval/index.js';
// serving: continuous batching, the engine (worker thread) and the OpenAI-compatible server
export { SlotKvCache } from './model/kv-cache.js';
export { fitChatInput, type FittedChatInput } from './infer/chat-format.js';
export { applyPresencePenalties } from './infer/sampling.js';
export { readGenerationConfig, resolveSampling, BAICHUAN_GENERATION_DEFAULTS, type GenerationDefaults, type SamplingOverrides } from './infer/generation-config.js';
export { ContinuousBatch, type SequenceOptions, type StepToken, type BatchOptions } from './infer/batch.js';
export { Engine, EngineError, EngineStream, collectChunks, type EngineOptions, type ChatRequest, type CompletionRequest, type SamplingRequest, type CompletionResult, type EngineChunk, type TokenInfo, type Timings, type Usage } from './serve/engine.js';
export { startServer, type ServerOptions, type RunningServer } from './serve/server.js';
