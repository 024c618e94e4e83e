// SentencePiece's model file (sentencepiece_model.proto, ModelProto): the
// pieces with scores and types, the trainer spec and the normaliser spec.
// Unknown fields are kept so a read model writes back byte-compatible.
import fs from 'node:fs';
import { PbWriter, decodeMessage, fieldFloat, fieldString, type PbField } from './protobuf.js';

export enum PieceType { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 }

export interface Piece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface NormalizerSpec {
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

/** Trainer-spec fields this package reads or writes (numbers are proto field numbers). */
export const TRAINER_FIELDS = {
  modelType: 3, vocabSize: 4, characterCoverage: 10, maxSentencepieceLength: 20, treatWhitespaceAsSuffix: 24,
  splitDigits: 25, allowWhitespaceOnlyPieces: 26, userDefinedSymbols: 31, byteFallback: 35,
  unkId: 40, bosId: 41, eosId: 42, padId: 43, unkSurface: 44,
} as const;

export interface SpModel {
  pieces: Piece[];
  /** Raw trainer-spec fields (kept verbatim). */
  trainerSpec: PbField[];
  normalizer: NormalizerSpec;
  /** Raw fields of ModelProto other than pieces/trainer/normalizer (self-test data, denormaliser). */
  otherFields: PbField[];
}

const MODEL_TYPES: Record<number, string> = { 1: 'UNIGRAM', 2: 'BPE', 3: 'WORD', 4: 'CHAR' };

export function trainerValue(spec: PbField[], no: number): PbField | undefined {
  let last: PbField | undefined;
  for (const f of spec) if (f.no === no) last = f;
  return last;
}

export function modelType(m: SpModel): string {
  const f = trainerValue(m.trainerSpec, TRAINER_FIELDS.modelType);
  return MODEL_TYPES[f ? Number(f.value) : 1] ?? 'UNKNOWN';
}

export function byteFallback(m: SpModel): boolean {
  const f = trainerValue(m.trainerSpec, TRAINER_FIELDS.byteFallback);
  return f ? Number(f.value) !== 0 : false;
}

export function unkSurface(m: SpModel): string {
  const f = trainerValue(m.trainerSpec, TRAINER_FIELDS.unkSurface);
  return f ? fieldString(f) : ' \u2047 ';
}

export function parseModel(buf: Uint8Array, where = 'tokenizer.model'): SpModel {
  const fields = decodeMessage(buf, where);
  const pieces: Piece[] = [];
  let trainerSpec: PbField[] = [];
  const normalizer: NormalizerSpec = { name: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
  const otherFields: PbField[] = [];
  for (const f of fields) {
    if (f.no === 1 && f.wire === 2) {
      const p: Piece = { piece: '', score: 0, type: PieceType.NORMAL };
      for (const g of decodeMessage(f.value as Uint8Array, `${where} piece ${pieces.length}`)) {
        if (g.no === 1) p.piece = fieldString(g);
        else if (g.no === 2) p.score = fieldFloat(g);
        else if (g.no === 3) p.type = Number(g.value) as PieceType;
      }
      if (!PieceType[p.type]) throw new Error(`${where}: piece ${pieces.length} has unknown type ${p.type}`);
      pieces.push(p);
    } else if (f.no === 2 && f.wire === 2) {
      trainerSpec = decodeMessage(f.value as Uint8Array, `${where} trainer_spec`);
    } else if (f.no === 3 && f.wire === 2) {
      for (const g of decodeMessage(f.value as Uint8Array, `${where} normalizer_spec`)) {
        if (g.no === 1) normalizer.name = fieldString(g);
        else if (g.no === 2) normalizer.precompiledCharsmap = g.value as Uint8Array;
        else if (g.no === 3) normalizer.addDummyPrefix = Number(g.value) !== 0;
        else if (g.no === 4) normalizer.removeExtraWhitespaces = Number(g.value) !== 0;
        else if (g.no === 5) normalizer.escapeWhitespaces = Number(g.value) !== 0;
      }
    } else {
      otherFields.push(f);
    }
  }
  if (pieces.length === 0) throw new Error(`${where}: no pieces (not a SentencePiece model file?)`);
  return { pieces, trainerSpec, normalizer, otherFields };
}

export function readModelFile(file: string): SpModel {
  if (!fs.existsSync(file)) throw new Error(`${file}: tokenizer model not found`);
  return parseModel(new Uint8Array(fs.readFileSync(file)), file);
}

export function serializeModel(m: SpModel): Uint8Array {
  const w = new PbWriter();
  for (const p of m.pieces) {
    const pw = new PbWriter().string(1, p.piece).float(2, p.score);
    if (p.type !== PieceType.NORMAL) pw.uint(3, p.type);
    w.bytes(1, pw.finish());
  }
  const tw = new PbWriter();
  for (const f of m.trainerSpec) tw.raw(f);
  w.bytes(2, tw.finish());
  const nw = new PbWriter().string(1, m.normalizer.name);
  if (m.normalizer.precompiledCharsmap.length) nw.bytes(2, m.normalizer.precompiledCharsmap);
  nw.uint(3, m.normalizer.addDummyPrefix).uint(4, m.normalizer.removeExtraWhitespaces).uint(5, m.normalizer.escapeWhitespaces);
  w.bytes(3, nw.finish());
  for (const f of m.otherFields) w.raw(f);
  return w.finish();
}
