/** Summary statistics for a list of timings (ms). */
export interface Stat {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  stdev: number;
}

export function summarize(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  const stdev = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / (s.length || 1));
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    n: s.length,
    min: r(s[0] ?? NaN),
    p50: r(q(0.5)),
    p95: r(q(0.95)),
    p99: r(q(0.99)),
    max: r(s[s.length - 1] ?? NaN),
    mean: r(mean),
    stdev: r(stdev),
  };
}

export async function time<T>(callback: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await callback();
  return [performance.now() - t0, v];
}

/** One target checked in the run: ours against a baseline measured in the same run. */
export interface Comparison {
  metric: string;
  ours: number;
  baseline: number;
  baselineName: string;
  /** ours / baseline */
  ratio: number;
  target: string;
  pass: boolean;
}

export interface BenchSection {
  name: string;
  metrics: Record<string, Stat>;
  comparisons: Comparison[];
  notes: string[];
}

export interface BenchOptions {
  iterations: number;
  log: (line: string) => void;
  /** A fresh folder this section may use as the server's state dir. */
  stateDir: string;
}

export type BenchRunner = (o: BenchOptions) => Promise<BenchSection>;

export function compare(
  metric: string,
  ours: number,
  baselineName: string,
  baseline: number,
  target: string,
  pass: boolean,
): Comparison {
  return { metric, ours, baseline, baselineName, ratio: Math.round((ours / baseline) * 1000) / 1000, target, pass };
}
