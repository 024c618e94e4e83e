// The learning-rate schedule of the paper (SPEC §5): linear warm-up to the
// peak, then cosine decay to a floor at the last step.
export interface ScheduleConfig {
  peakLr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
}

/** Learning rate of optimizer step `step` (1-based, as the AdamW step count). */
export function lrAt(step: number, c: ScheduleConfig): number {
  if (step <= c.warmupSteps) return (c.peakLr * step) / Math.max(1, c.warmupSteps);
  if (step >= c.totalSteps) return c.minLr;
  const progress = (step - c.warmupSteps) / Math.max(1, c.totalSteps - c.warmupSteps);
  return c.minLr + (c.peakLr - c.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
