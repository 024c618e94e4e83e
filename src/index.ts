// baichuan2-ts: public API.
export * from './engine/index.js';
export { type BaichuanConfig, type PositionScheme, configFromJSON, configToJSON, ffnSize, PRESETS, positionNotes } from './model/config.js';
export { BaichuanForCausalLM, type ForwardOptions, type ForwardOutput, initTensor, checkTokenIds } from './model/baichuan.js';
export { KvCache } from './model/kv-cache.js';
export { loadModel, saveModel, readConfig, type LoadOptions, type SaveOptions } from './io/hf-folder.js';
export { readSafetensors, writeSafetensors, readSafetensorsHeader } from './io/safetensors.js';
export { readTorchBin } from './io/torch-bin.js';
export { loadTokenizer, BpeTokenizer, readModelFile, parseModel, serializeModel, PieceType } from './tokenizer/index.js';
export { generate, GenerationSession, type GenerateOptions, type GenerateResult } from './infer/generate.js';
export { streamText, DeltaDecoder } from './infer/stream.js';
export { buildChatInput, type ChatMessage } from './infer/chat-format.js';
export { sampleToken, applyRepetitionPenalty, BAICHUAN_CHAT_SAMPLING, type SamplingOptions } from './infer/sampling.js';
export { evaluate, ModelLM, runTask, loadTask, TASKS, corpusBleu, passAtK, runPython, assertSandboxUsable, SandboxRefusedError, MINIMUM_ISOLATION, type SandboxOptions, type SandboxResult, type EvalLM, type TaskResult, type EvaluationReport } from './eval/index.js';
