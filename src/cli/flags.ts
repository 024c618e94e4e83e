// Flag parsing helpers shared by the commands: strict numbers with clear errors.
export class UsageError extends Error {}

export function parseIntFlag(v: string, name: string, min = -Infinity, max = Infinity): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${name} must be an integer${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` and <= ${max}` : ''}, got '${v}'`);
  return n;
}

export function parseFloatFlag(v: string, name: string, min = -Infinity, max = Infinity): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
  return n;
}
