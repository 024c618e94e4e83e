// Packs a token stream (src/data/shards.ts) into [B, T+1] windows in order;
// its position is the whole data state, so a checkpoint resumes exactly
// where the run stopped.

/**
 * Sequential packed batches over a token stream; wraps around (epochs). With
 * `part` (data parallelism, as llm.c's loader) the stream is read in global
 * batches of world x B rows and rank r gets rows [r B, (r + 1) B) of each:
 * the position is global, so W ranks of batch B read exactly what one rank
 * of batch W B reads, and a checkpoint resumes at any world size.
 */
export class PackedLoader {
  position = 0;
  epoch = 0;
  constructor(readonly tokens: Uint32Array, readonly B: number, readonly T: number, readonly part: { rank: number; world: number } = { rank: 0, world: 1 }) {
    if (tokens.length < T + 1) throw new Error(`data: ${tokens.length} tokens cannot fill one sequence of ${T + 1}`);
    if (!(part.world >= 1 && part.rank >= 0 && part.rank < part.world)) throw new RangeError(`PackedLoader: rank ${part.rank} is outside a world of ${part.world}`);
  }
  /** The next [B, T] inputs and [B, T] targets (targets = inputs shifted by one) of this rank. */
  next(): { inputs: Int32Array; targets: Int32Array } {
    const { B, T } = this;
    const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
    const first = this.part.rank * B;
    for (let row = 0; row < this.part.world * B; row++) {
      if (this.position + T + 1 > this.tokens.length) { this.position = 0; this.epoch++; }
      const b = row - first;
      if (b >= 0 && b < B) {
        for (let t = 0; t < T; t++) {
          inputs[b * T + t] = this.tokens[this.position + t]!;
          targets[b * T + t] = this.tokens[this.position + t + 1]!;
        }
      }
      this.position += T;
    }
    return { inputs, targets };
  }
  state(): { position: number; epoch: number } {
    return { position: this.position, epoch: this.epoch };
  }
  restore(s: { position: number; epoch: number }): void {
    this.position = s.position;
    this.epoch = s.epoch;
  }
}
