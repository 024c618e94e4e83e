// baichuan2-ts: public API.
export * from './engine/index.js';
export { type BaichuanConfig, type PositionScheme, configFromJSON, configToJSON, ffnSize, PRESETS, positionNotes } from './model/config.js';
export { BaichuanForCausalLM, type ForwardOptions, type ForwardOutput, initTensor, checkTokenIds } from './model/baichuan.js';
export { KvCache } from './model/kv-cache.js';
export { loadModel, saveModel, readConfig, type LoadOptions, type SaveOptions } from './io/hf-folder.js';
export { readSafetensors, writeSafetensors, readSafetensorsHeader, listSafetensors } from './io/safetensors.js';
export { readTorchBin, listTorchBin } from './io/torch-bin.js';
export { listWeights, findWeightFiles, type WeightFiles, type WeightFormat } from './io/weight-files.js';
export { readTensor, readRows, firstNonFinite, type TensorSource } from './io/tensor-source.js';
export { convertToSafetensors, type ConvertOptions, type ConvertReport } from './io/convert.js';
export { readGgufHeader, readGgufTensorBytes, writeGguf, isGgufFile, GgufType, GgmlType, type GgufFile, type GgufValue, type GgufTensorEntry } from './io/gguf.js';
export { loadGgufModel, ggufSource, describeGguf, layerCountWarning, type ModelSource, type GgufTarget } from './io/gguf-baichuan.js';
export { exportGguf, openSource, GGUF_TARGETS, type ExportOptions, type ExportReport } from './io/gguf-export.js';
export { loadTokenizer, BpeTokenizer, readModelFile, parseModel, serializeModel, PieceType } from './tokenizer/index.js';
export { generate, GenerationSession, type GenerateOptions, type GenerateResult } from './infer/generate.js';
export { streamText, DeltaDecoder } from './infer/stream.js';
export { buildChatInput, type ChatMessage } from './infer/chat-format.js';
export { sampleToken, applyRepetitionPenalty, BAICHUAN_CHAT_SAMPLING, type SamplingOptions } from './infer/sampling.js';
export { evaluate, ModelLM, runTask, loadTask, TASKS, corpusBleu, passAtK, runPython, assertSandboxUsable, SandboxRefusedError, MINIMUM_ISOLATION, type SandboxOptions, type SandboxResult, type EvalLM, type TaskResult, type EvaluationReport } from './eval/index.js';
// serving: continuous batching, the engine (worker thread) and the OpenAI-compatible server
export { SlotKvCache } from './model/kv-cache.js';
export { fitChatInput, type FittedChatInput } from './infer/chat-format.js';
export { applyPresencePenalties } from './infer/sampling.js';
export { readGenerationConfig, resolveSampling, BAICHUAN_GENERATION_DEFAULTS, type GenerationDefaults, type SamplingOverrides } from './infer/generation-config.js';
export { ContinuousBatch, type SequenceOptions, type StepToken, type BatchOptions } from './infer/batch.js';
export { Engine, EngineError, EngineStream, collectChunks, type EngineOptions, type ChatRequest, type CompletionRequest, type SamplingRequest, type CompletionResult, type EngineChunk, type TokenInfo, type Timings, type Usage } from './serve/engine.js';
export { startServer, type ServerOptions, type RunningServer } from './serve/server.js';
