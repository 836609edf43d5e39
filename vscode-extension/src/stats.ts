// Small statistics for the dashboard when the daemon's analytics are not available. Pure.

/** Linear-interpolated percentile (the "R-7"/NumPy default), q in [0, 100]. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (Math.min(100, Math.max(0, q)) / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface Summary {
  count: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, mean: NaN, min: NaN, max: NaN, p50: NaN, p95: NaN };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { count: values.length, mean: sum / values.length, min, max, p50: percentile(values, 50), p95: percentile(values, 95) };
}

export interface Bin {
  lo: number;
  hi: number;
  count: number;
}

/** Equal-width bins over [min, max]; the last bin is closed. */
export function histogram(values: readonly number[], bins = 12): Bin[] {
  if (values.length === 0) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  if (min === max) return [{ lo: min, hi: max, count: values.length }];
  const n = Math.max(1, Math.floor(bins));
  const width = (max - min) / n;
  const out: Bin[] = Array.from({ length: n }, (_, i) => ({ lo: min + i * width, hi: min + (i + 1) * width, count: 0 }));
  for (const v of values) out[Math.min(n - 1, Math.floor((v - min) / width))].count++;
  return out;
}

export interface Sample {
  at: number; // epoch ms
  provider: string;
  model: string;
  latencyMs: number;
  ok: boolean;
  cost?: number;
}

/** A bounded log of the requests this window made, per provider (memory stays flat). */
export class SampleLog {
  private samples: Sample[] = [];
  constructor(private readonly capacity = 500) {}

  add(sample: Sample): void {
    this.samples.push(sample);
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  all(): readonly Sample[] {
    return this.samples;
  }

  providers(): string[] {
    return [...new Set(this.samples.map((s) => s.provider))].sort();
  }

  latencies(provider: string): number[] {
    return this.samples.filter((s) => s.provider === provider && s.ok).map((s) => s.latencyMs);
  }

  successRate(provider: string): number {
    const mine = this.samples.filter((s) => s.provider === provider);
    return mine.length ? mine.filter((s) => s.ok).length / mine.length : NaN;
  }

  /** p50/p95 over a sliding window of `window` successful samples, one point per sample. */
  rollingPercentiles(provider: string, window = 20): { at: number; p50: number; p95: number }[] {
    const ok = this.samples.filter((s) => s.provider === provider && s.ok);
    return ok.map((s, i) => {
      const slice = ok.slice(Math.max(0, i - window + 1), i + 1).map((x) => x.latencyMs);
      return { at: s.at, p50: percentile(slice, 50), p95: percentile(slice, 95) };
    });
  }
}
