// Reference pointwise activations, float64.
export const siluRef = (x: number): number => x / (1 + Math.exp(-x));
export const swigluRef = (g: number, u: number): number => siluRef(g) * u;
