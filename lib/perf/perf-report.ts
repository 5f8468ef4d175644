/**
 * warren-perf's text output: the progress line printed once a second and the
 * summary at the end (rates, phases, latency percentiles).
 */
import type { LatencySummary } from './histogram.js';
import type { PerfOptions } from './perf-options.js';
import type { PerfResult, Rates } from './perf-run.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n < 10 ? n.toFixed(3) : n < 1000 ? n.toFixed(1) : Math.round(n).toString());

export function formatProgress(r: Rates & { t: number }, unconsumed: number, o: Pick<PerfOptions, 'confirm' | 'consumers'>): string {
  const parts = [`time ${String(r.t).padStart(3)} s`, `sent ${int(r.published).padStart(9)} msg/s`];
  if (o.confirm > 0) parts.push(`confirmed ${int(r.confirmed).padStart(9)} msg/s`);
  if (o.consumers > 0) parts.push(`received ${int(r.received).padStart(9)} msg/s`, `unconsumed ${int(Math.max(0, unconsumed))}`);
  return parts.join(', ');
}

function latencyLine(name: string, l: LatencySummary | undefined): string | null {
  if (!l) return null;
  return `${name} latency (ms): min ${ms(l.min)}, p50 ${ms(l.p50)}, p75 ${ms(l.p75)}, p95 ${ms(l.p95)}, p99 ${ms(l.p99)}, max ${ms(l.max)} (${int(l.samples)} samples)`;
}

export function formatSummary(r: PerfResult): string {
  const o = r.options;
  const lines = [
    `warren-perf: ${r.uri}, ${o.producers} producer(s), ${o.consumers} consumer(s), ${o.size} B${o.persistent ? ' persistent' : ''}` +
      `${o.confirm > 0 ? `, confirms (${o.confirm} outstanding)` : ''}${o.consumers > 0 ? (o.autoack ? ', autoack' : `, manual ack${o.prefetch > 0 ? `, prefetch ${o.prefetch}` : ''}`) : ''}`,
  ];
  if (r.mode === 'timed') {
    lines.push(`measured ${r.seconds.toFixed(1)} s: sent ${int(r.rates.published)} msg/s` +
      `${o.confirm > 0 ? `, confirmed ${int(r.rates.confirmed)} msg/s${r.counts.nacked ? ` (${int(r.counts.nacked)} nacked)` : ''}` : ''}` +
      `${o.consumers > 0 ? `, received ${int(r.rates.received)} msg/s (${r.rates.receivedMBps.toFixed(1)} MB/s)` : ''}`);
  }
  if (r.queued) lines.push(`the broker had ${int(r.queued.messages)} queued ${r.queued.seconds.toFixed(1)} s after the first publish: ${int(r.queued.rate)} msg/s taken in`);
  if (r.prefill) lines.push(`prefill: ${int(r.prefill.messages)} messages queued in ${r.prefill.seconds.toFixed(2)} s (${int(r.prefill.rate)} msg/s)`);
  if (r.drain) lines.push(`drain: ${int(r.drain.messages)} messages in ${r.drain.seconds.toFixed(2)} s (${int(r.drain.rate)} msg/s)`);
  for (const l of [latencyLine('end-to-end', r.latency.endToEnd), latencyLine('confirm', r.latency.confirm)]) if (l) lines.push(l);
  lines.push(`warren-perf used ${Math.round(r.clientCpu)}% of one core while measuring`);
  return lines.join('\n');
}
