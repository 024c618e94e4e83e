// The pre-training data pipeline (SPEC §2): library entry points.
export { runPipeline, type PipelineResult, type StageReport } from './run.js';
export { parsePipelineConfig, readPipelineConfig, STAGES, type PipelineConfig, type StageName } from './config.js';
export { firstFailedRule, DEFAULT_FILTERS, RULES, type FilterConfig } from './filters.js';
export { CharTrigramScorer, filterSentences, referenceThreshold, type SentenceScorer } from './quality.js';
export { MinHasher, shingleSet, jaccard, candidateProbability, Components, DEFAULT_MINHASH, type MinHashConfig } from './minhash.js';
export { reportMarkdown, reportSvg } from './report.js';
export { corpusStats, type CorpusStats } from './stats.js';
export { readShard, listShards, type Doc } from './doc-io.js';
