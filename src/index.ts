// baichuan2-ts: public API.
export * from './engine/index.js';
