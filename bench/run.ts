/**
 * `npm run bench`: warren beside RabbitMQ (and garagemq, when installed) on the
 * same machine in one run, as issue 7 asks. Each workload of
 * bench/lib/bench-workloads.ts is a warren-perf run (lib/perf/); for every
 * round, each workload runs on each broker in turn (warren, RabbitMQ, garagemq,
 * warren, ...), each time on a freshly started broker with a scratch data dir,
 * so one broker's leftovers never weigh on the next run. The table shows the
 * medians of the rounds and the ratios to RabbitMQ; the results also go to a
 * JSON file and an SVG chart for the README.
 *
 *   npm run bench [-- --rounds 3 --brokers warren,rabbitmq,garagemq --workloads a,b,c,d,e,f,g,h,lat
 *       --time 10 --warmup 2 --prefill 1000000 --publish-only 10
 *       --json bench-results/bench.json --chart bench-results/bench.svg]
 *
 * Nothing is installed here: RabbitMQ comes from `apt-get install rabbitmq-server`
 * (started by tools/rabbitmq-scratch.sh on a spare port, stopped after), garagemq
 * from `apt-get install garagemq`. A broker that is missing is reported with the
 * command that installs it, and the run goes on without it. RSS is the broker
 * process's VmRSS: in (g) once the prefill is queued, in (h) at the end with
 * everything still queued. Not a test: nothing here passes or fails.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePerfOptions } from '../lib/perf/perf-options.js';
import { runPerf } from '../lib/perf/perf-run.js';
import type { PerfResult } from '../lib/perf/perf-run.js';
import { renderChartSvg } from './lib/bench-chart.js';
import { cleanupAll, errorText, installSignalHandlers, isExiting, rssKiB, withTimeout } from './lib/bench-process.js';
import { chartInput, markdownTable, summarise } from './lib/bench-report.js';
import type { MetricRow } from './lib/bench-report.js';
import { METRICS, WORKLOADS } from './lib/bench-workloads.js';
import type { BenchTiming, RunExtras } from './lib/bench-workloads.js';
import { BROKER_KINDS, BROKER_NAMES, brokerInstalled, brokerVersion, installHint, isBrokerKind, startBroker } from './lib/brokers.js';
import type { BrokerKind } from './lib/brokers.js';

const ROOT = fileURLToPath(new URL(existsSync(new URL('../package.json', import.meta.url)) ? '..' : '../..', import.meta.url));

interface Options extends BenchTiming {
  rounds: number;
  brokers: BrokerKind[];
  workloads: string[];
  json: string;
  chart: string;
}

const USAGE = `usage: npm run bench [-- --rounds N --brokers ${BROKER_KINDS.join(',')} --workloads ${WORKLOADS.map((w) => w.id).join(',')}
                      --time S --warmup S --prefill N --publish-only S --json FILE --chart FILE.svg]`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    rounds: 3, brokers: [...BROKER_KINDS], workloads: WORKLOADS.map((w) => w.id), time: 10, warmup: 2, prefill: 1_000_000, publishOnly: 10,
    json: join(ROOT, 'bench-results/bench.json'), chart: join(ROOT, 'bench-results/bench.svg'),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[++i];
    if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    const num = (min: number): number => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number of at least ${min}\n${USAGE}`);
      return n;
    };
    const list = (): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);
    switch (flag) {
      case '--rounds': o.rounds = Math.floor(num(1)); break;
      case '--time': o.time = num(1); break;
      case '--warmup': o.warmup = num(0); break;
      case '--prefill': o.prefill = Math.floor(num(1)); break;
      case '--publish-only': o.publishOnly = num(1); break;
      case '--json': o.json = value; break;
      case '--chart': o.chart = value; break;
      case '--brokers': {
        const names = list();
        for (const n of names) if (!isBrokerKind(n)) throw new Error(`unknown broker ${n}\n${USAGE}`);
        o.brokers = BROKER_KINDS.filter((b) => names.includes(b));
        break;
      }
      case '--workloads': {
        const names = list();
        for (const n of names) if (!WORKLOADS.some((w) => w.id === n)) throw new Error(`unknown workload ${n}\n${USAGE}`);
        o.workloads = WORKLOADS.filter((w) => names.includes(w.id)).map((w) => w.id);
        break;
      }
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  return o;
}

interface RunRecord {
  round: number;
  workload: string;
  broker: BrokerKind;
  result?: PerfResult;
  extras: RunExtras;
  error?: string;
}

/** One warren-perf run on a fresh broker. */
async function runOnce(kind: BrokerKind, argv: string[], timeoutMs: number): Promise<{ result?: PerfResult; extras: RunExtras; error?: string }> {
  const extras: RunExtras = {};
  const broker = await startBroker(kind);
  try {
    const options = parsePerfOptions(['--uri', `amqp://guest:guest@127.0.0.1:${broker.port}/%2F`, '--quiet', ...argv]);
    const result = await withTimeout(
      runPerf(options, {
        prefilled: () => void (extras.rssPrefilledKiB = rssKiB(broker.pid)),
        measured: () => void (extras.rssEndKiB = rssKiB(broker.pid)),
      }),
      timeoutMs,
      'warren-perf',
    );
    const dead = broker.dead();
    return dead ? { extras, error: dead } : { result, extras };
  } catch (err) {
    return { extras, error: broker.dead() ?? errorText(err) };
  } finally {
    await broker.stop();
  }
}

function brief(r: RunRecord): string {
  if (r.error || !r.result) return `failed: ${r.error?.split('\n')[0]}`;
  const metrics = METRICS.filter((m) => m.workload === r.workload);
  return metrics.map((m) => {
    const v = m.read(r.result!, r.extras);
    return `${m.id} ${v === undefined ? '-' : m.unit === 'ms' ? v.toFixed(2) : Math.round(v).toLocaleString('en-US')} ${m.unit}`;
  }).join(', ') + ` (warren-perf CPU ${Math.round(r.result.clientCpu)}%)`;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  installSignalHandlers();
  const brokers = o.brokers.filter((b) => {
    if (brokerInstalled(b)) return true;
    console.error(`${BROKER_NAMES[b]} is not installed: ${installHint(b)} (measuring without it)`);
    return false;
  });
  if (!brokers.includes('warren')) throw new Error('warren is needed: npm run build');
  if (!brokers.includes('rabbitmq')) console.error('No RabbitMQ, so no ratios: install it with  apt-get install rabbitmq-server  and run again.');
  const names = Object.fromEntries(BROKER_KINDS.map((b) => [b, b === 'warren' ? 'warren' : `${BROKER_NAMES[b]} ${brokerVersion(b)}`])) as Record<BrokerKind, string>;
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverageAtStart: loadavg()[0]! };
  const startedAt = new Date().toISOString();
  console.log(`npm run bench: ${brokers.map((b) => names[b]).join(' vs ')}, ${o.rounds} round(s), workloads ${o.workloads.join(',')}`);
  console.log(`machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, load average ${machine.loadAverageAtStart.toFixed(2)}`);
  const timing: BenchTiming = { time: o.time, warmup: o.warmup, prefill: o.prefill, publishOnly: o.publishOnly };
  const runs: RunRecord[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const w of WORKLOADS.filter((x) => o.workloads.includes(x.id))) {
      for (const broker of brokers) {
        if (isExiting()) return;
        const timeoutMs = w.id === 'g' ? 3_600_000 : (o.time + o.warmup + o.publishOnly + 120) * 1000;
        const r: RunRecord = { round, workload: w.id, broker, ...(await runOnce(broker, w.argv(timing), timeoutMs)) };
        runs.push(r);
        console.log(`round ${round}/${o.rounds} ${w.id.padEnd(3)} ${names[broker].padEnd(24)} ${brief(r)}`);
      }
    }
  }
  const rows: MetricRow[] = METRICS.filter((m) => o.workloads.includes(m.workload)).map((metric) => ({
    metric,
    values: Object.fromEntries(brokers.map((b) => [b, runs.filter((r) => r.broker === b && r.workload === metric.workload).map((r) => (r.result ? metric.read(r.result, r.extras) ?? null : null))])),
  }));
  const summary = summarise(rows, brokers);
  const subtitle = `medians of ${o.rounds} round(s); ${machine.cpus} cores, ${machine.cpuModel}; Node ${machine.node}; ${startedAt.slice(0, 10)}`;
  console.log(`\nWorkloads:\n${WORKLOADS.filter((w) => o.workloads.includes(w.id)).map((w) => `  (${w.id}) ${w.title}: warren-perf ${w.argv(timing).join(' ')}`).join('\n')}\n`);
  console.log(markdownTable(summary, brokers, names));
  mkdirSync(dirname(o.json), { recursive: true });
  writeFileSync(o.json, `${JSON.stringify({ startedAt, machine, options: o, brokers: brokers.map((b) => ({ kind: b, name: names[b] })), summary, runs }, null, 2)}\n`);
  console.log(`\nresults: ${o.json}`);
  if (brokers.includes('rabbitmq')) {
    mkdirSync(dirname(o.chart), { recursive: true });
    writeFileSync(o.chart, renderChartSvg(chartInput(summary, brokers, names, subtitle)));
    console.log(`chart: ${o.chart}`);
  }
}

main()
  .catch((err: unknown) => {
    console.error(errorText(err));
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
