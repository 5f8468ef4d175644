/**
 * A latency histogram for warren-perf: fixed buckets, no allocation per sample,
 * mergeable across worker threads (the counts are a plain Float64Array that
 * postMessage copies).
 *
 * Samples are milliseconds, stored in microseconds: 1 µs buckets up to 2.048 ms,
 * then 512 buckets per power of two (about 0.2% wide) up to 2^32 µs (71 minutes);
 * larger values land in the last bucket. Percentiles report a bucket's lower bound.
 */
const LINEAR = 2048; // µs with their own bucket
const SUB_BITS = 9; // 512 sub-buckets per octave
const FIRST_OCTAVE = 11; // log2(LINEAR)
const OCTAVES = 32 - FIRST_OCTAVE;
export const HISTOGRAM_BUCKETS = LINEAR + OCTAVES * (1 << SUB_BITS);

export interface LatencySummary {
  samples: number;
  /** all in ms */
  min: number;
  p50: number;
  p75: number;
  p95: number;
  p99: number;
  max: number;
}

function bucketOf(us: number): number {
  if (us < LINEAR) return us < 0 ? 0 : us;
  if (us >= 0x1_0000_0000) return HISTOGRAM_BUCKETS - 1;
  const octave = 31 - Math.clz32(us); // >= FIRST_OCTAVE
  const sub = (us >>> (octave - SUB_BITS)) & ((1 << SUB_BITS) - 1);
  return LINEAR + (octave - FIRST_OCTAVE) * (1 << SUB_BITS) + sub;
}

/** The smallest µs value of a bucket. */
function lowerBound(bucket: number): number {
  if (bucket < LINEAR) return bucket;
  const i = bucket - LINEAR;
  const octave = FIRST_OCTAVE + (i >>> SUB_BITS);
  const sub = i & ((1 << SUB_BITS) - 1);
  return 2 ** octave + sub * 2 ** (octave - SUB_BITS);
}

export class Histogram {
  readonly counts: Float64Array;
  samples = 0;
  /** exact extremes, in ms */
  min = Infinity;
  max = -Infinity;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(HISTOGRAM_BUCKETS);
  }

  add(ms: number): void {
    this.counts[bucketOf(Math.floor(ms * 1000))]++;
    this.samples++;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  merge(other: { counts: Float64Array; samples: number; min: number; max: number }): void {
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.samples += other.samples;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  reset(): void {
    this.counts.fill(0);
    this.samples = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  /** The value (ms) below which a fraction q of the samples lie. */
  percentile(q: number): number {
    if (this.samples === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.samples));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(Math.max(lowerBound(i) / 1000, this.min), this.max);
    }
    return this.max;
  }

  summary(): LatencySummary | undefined {
    if (this.samples === 0) return undefined;
    return {
      samples: this.samples,
      min: this.min,
      p50: this.percentile(0.5),
      p75: this.percentile(0.75),
      p95: this.percentile(0.95),
      p99: this.percentile(0.99),
      max: this.max,
    };
  }
}
