/**
 * `npm run bench`'s results: medians over rounds, ratios to RabbitMQ, the
 * Markdown table printed and pasted into the README, and the chart input
 * (bench/lib/bench-chart.ts). Holds no I/O.
 */
import type { ChartInput } from './bench-chart.js';
import { median } from './bench-process.js';
import type { BrokerKind } from './brokers.js';
import type { BenchMetric } from './bench-workloads.js';

/** One broker's figures for one metric: a value per round (null: that run failed). */
export interface MetricRow {
  metric: BenchMetric;
  values: Partial<Record<BrokerKind, (number | null)[]>>;
}

export interface Summary {
  metric: string;
  label: string;
  unit: string;
  target: number;
  lowerIsBetter: boolean;
  /** medians per broker (null: no successful round) */
  medians: Partial<Record<BrokerKind, number | null>>;
  /** broker / RabbitMQ medians */
  ratios: Partial<Record<BrokerKind, number | null>>;
  /** warren's ratio meets the target (null: no ratio) */
  met: boolean | null;
}

export function summarise(rows: MetricRow[], brokers: BrokerKind[]): Summary[] {
  return rows.map(({ metric, values }) => {
    const medians: Summary['medians'] = {};
    for (const b of brokers) {
      const ok = (values[b] ?? []).filter((v): v is number => v !== null && Number.isFinite(v));
      medians[b] = ok.length > 0 ? median(ok) : null;
    }
    const ref = medians.rabbitmq;
    const ratios: Summary['ratios'] = {};
    for (const b of brokers) {
      if (b === 'rabbitmq') continue;
      const m = medians[b];
      ratios[b] = m != null && ref != null && ref > 0 ? m / ref : null;
    }
    const w = ratios.warren;
    const met = w == null ? null : metric.lowerIsBetter ? w <= metric.target : w >= metric.target;
    return { metric: metric.id, label: metric.label, unit: metric.unit, target: metric.target, lowerIsBetter: metric.lowerIsBetter === true, medians, ratios, met };
  });
}

const fmt = (v: number | null | undefined, unit: string): string => {
  if (v == null) return 'failed';
  if (unit === 'ms') return v < 10 ? v.toFixed(2) : v.toFixed(1);
  if (unit === 'MB/s' || unit === 'MiB') return v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US');
  return Math.round(v).toLocaleString('en-US');
};
const ratio = (v: number | null | undefined): string => (v == null ? 'n/a' : `${v < 0.1 ? v.toFixed(3) : v.toFixed(2)}x`);

export function markdownTable(summary: Summary[], brokers: BrokerKind[], names: Record<BrokerKind, string>): string {
  const others = brokers.filter((b) => b !== 'rabbitmq');
  const hasRef = brokers.includes('rabbitmq');
  const head = ['figure', ...brokers.map((b) => names[b]), ...(hasRef ? others.map((b) => `${names[b].split(' ')[0]} / RabbitMQ`) : []), ...(hasRef ? ['target (warren)', 'met'] : [])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const s of summary) {
    const cells = [s.label, ...brokers.map((b) => fmt(s.medians[b], s.unit))];
    if (hasRef) {
      cells.push(...others.map((b) => ratio(s.ratios[b])));
      cells.push(`${s.lowerIsBetter ? '≤' : '≥'} ${s.target}x`, s.met === null ? '' : s.met ? 'yes' : '**no**');
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function chartInput(summary: Summary[], brokers: BrokerKind[], names: Record<BrokerKind, string>, subtitle: string): ChartInput {
  const others = brokers.filter((b) => b !== 'rabbitmq');
  return {
    title: 'warren vs RabbitMQ: npm run bench (ratio to RabbitMQ, log scale)',
    subtitle,
    reference: names.rabbitmq,
    brokers: others.map((b) => names[b]),
    rows: summary.map((s) => ({
      id: s.metric,
      label: s.label.replace(/^\([a-h]\) /, ''),
      target: s.target,
      lowerIsBetter: s.lowerIsBetter,
      ratios: Object.fromEntries(others.map((b) => [names[b], s.ratios[b] ?? null])),
    })),
  };
}
