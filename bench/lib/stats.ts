// Summaries of repeated measurements: a median and a spread, always named, so a figure
// in the report says which spread it is (p10-p90 for many samples, min-max for few).

export interface Summary {
  n: number;
  median: number;
  p10: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

/** Linear-interpolated percentile (q in [0, 1]) of an unsorted list. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    median: percentile(values, 0.5),
    p10: percentile(values, 0.1),
    p90: percentile(values, 0.9),
    p99: percentile(values, 0.99),
    min: values.length === 0 ? Number.NaN : Math.min(...values),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

/** Fixed decimals, with the digits a reader needs for the magnitude. */
export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 100) return value.toFixed(Math.min(digits, 0));
  if (Math.abs(value) >= 10) return value.toFixed(Math.min(digits, 1));
  return value.toFixed(digits);
}

/** "median (p10-p90 a-b)" or "median (min-max a-b)" with a unit. */
export function describe(s: Summary, unit: string, spread: 'p10-p90' | 'min-max' = s.n >= 20 ? 'p10-p90' : 'min-max', digits = 2): string {
  const [lo, hi] = spread === 'p10-p90' ? [s.p10, s.p90] : [s.min, s.max];
  return `${fmt(s.median, digits)} ${unit} (${spread} ${fmt(lo, digits)}-${fmt(hi, digits)}, n=${s.n})`;
}
