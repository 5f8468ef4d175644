/**
 * warren-perf's options: one table (flag, short flag, kind, default, doc) that
 * the parser and --help both read. Names and meanings follow RabbitMQ's PerfTest
 * where PerfTest has the option (--producers/-x, --consumers/-y, --size/-s,
 * --time/-z, --rate/-r, --confirm/-c, --autoack/-a, --qos/-q as --prefetch,
 * --multi-ack-every/-A, --queue/-u, --exchange/-e, --type/-t as --exchange-type,
 * --routing-key/-k); the rest are warren-perf's own.
 */
export interface PerfOptions {
  uri: string;
  producers: number;
  consumers: number;
  size: number;
  /** seconds to measure (after warmup); ignored with prefill */
  time: number;
  warmup: number;
  /** messages per second per producer (0: as fast as possible) */
  rate: number;
  /** publisher confirms with at most this many unconfirmed per producer (0: none) */
  confirm: number;
  persistent: boolean;
  autoack: boolean;
  /** basic.qos prefetch-count per consumer (0: unlimited) */
  prefetch: number;
  multiAckEvery: number;
  queue: string;
  queues: number;
  /** '' = the default exchange, routing key = queue name */
  exchangeType: '' | 'direct' | 'fanout' | 'topic' | 'headers';
  exchange: string;
  routingKey: string;
  /** publish this many messages before any consumer starts, then measure the drain (0: off) */
  prefill: number;
  /** pause producers while published x copies - received >= window x copies (0: no limit) */
  window: number;
  threads: number;
  /** '' no JSON; '-' JSON summary on stdout; else a file */
  json: string;
  /** run against a built-in do-nothing broker (the tool's own ceiling) */
  sink: boolean;
  quiet: boolean;
}

type Kind = 'int' | 'num' | 'str' | 'bool';
interface OptionSpec {
  key: keyof PerfOptions;
  flag: string;
  short?: string;
  kind: Kind;
  min?: number;
  doc: string;
}

export const DEFAULTS: PerfOptions = {
  uri: 'amqp://guest:guest@127.0.0.1:5672/%2F',
  producers: 1,
  consumers: 1,
  size: 16,
  time: 10,
  warmup: 0,
  rate: 0,
  confirm: 0,
  persistent: false,
  autoack: false,
  prefetch: 0,
  multiAckEvery: 1,
  queue: 'warren-perf',
  queues: 1,
  exchangeType: '',
  exchange: '',
  routingKey: '',
  prefill: 0,
  window: 0,
  threads: 0,
  json: '',
  sink: false,
  quiet: false,
};

const SPECS: OptionSpec[] = [
  { key: 'uri', flag: '--uri', short: '-h', kind: 'str', doc: 'broker to test (default amqp://guest:guest@127.0.0.1:5672/%2F)' },
  { key: 'producers', flag: '--producers', short: '-x', kind: 'int', min: 0, doc: 'producer connections (default 1)' },
  { key: 'consumers', flag: '--consumers', short: '-y', kind: 'int', min: 0, doc: 'consumer connections (default 1)' },
  { key: 'size', flag: '--size', short: '-s', kind: 'int', min: 0, doc: 'body bytes (default 16; latency needs 8 or more)' },
  { key: 'time', flag: '--time', short: '-z', kind: 'num', min: 0.1, doc: 'seconds to measure (default 10)' },
  { key: 'warmup', flag: '--warmup', kind: 'num', min: 0, doc: 'seconds to run before measuring (default 0)' },
  { key: 'rate', flag: '--rate', short: '-r', kind: 'num', min: 0, doc: 'messages/s per producer (default 0: unlimited)' },
  { key: 'confirm', flag: '--confirm', short: '-c', kind: 'int', min: 0, doc: 'publisher confirms, N unconfirmed at most per producer' },
  { key: 'persistent', flag: '--persistent', short: '-f', kind: 'bool', doc: 'delivery-mode 2, durable queues and exchange' },
  { key: 'autoack', flag: '--autoack', short: '-a', kind: 'bool', doc: 'consume with no-ack (default: manual acks)' },
  { key: 'prefetch', flag: '--prefetch', short: '-q', kind: 'int', min: 0, doc: 'basic.qos prefetch-count per consumer (default 0: unlimited)' },
  { key: 'multiAckEvery', flag: '--multi-ack-every', short: '-A', kind: 'int', min: 1, doc: 'ack with multiple=true every N deliveries (default 1: each)' },
  { key: 'queue', flag: '--queue', short: '-u', kind: 'str', doc: 'queue name, or prefix with --queues (default warren-perf)' },
  { key: 'queues', flag: '--queues', kind: 'int', min: 1, doc: 'K queues NAME-1..NAME-K; producer i and consumer i use queue i mod K' },
  { key: 'exchangeType', flag: '--exchange-type', short: '-t', kind: 'str', doc: 'direct, fanout, topic or headers (default: the default exchange)' },
  { key: 'exchange', flag: '--exchange', short: '-e', kind: 'str', doc: 'exchange name (default warren-perf-TYPE)' },
  { key: 'routingKey', flag: '--routing-key', short: '-k', kind: 'str', doc: 'routing and binding key (default: the queue name)' },
  { key: 'prefill', flag: '--prefill', kind: 'int', min: 0, doc: 'publish N messages first, then start consumers and time the drain' },
  { key: 'window', flag: '--window', kind: 'int', min: 0, doc: 'pause producers while more than N messages are unconsumed (default 0: off)' },
  { key: 'threads', flag: '--threads', kind: 'int', min: 0, doc: 'worker threads (default: one per connection, at most max(2, cores))' },
  { key: 'json', flag: '--json', kind: 'str', doc: 'write the summary as JSON to FILE (- for stdout)' },
  { key: 'sink', flag: '--sink', kind: 'bool', doc: "measure warren-perf itself against a built-in do-nothing broker" },
  { key: 'quiet', flag: '--quiet', kind: 'bool', doc: 'no per-second progress' },
];

export function usage(): string {
  const lines = SPECS.map((s) => {
    const arg = s.kind === 'bool' ? '' : s.kind === 'str' ? ' S' : ' N';
    const names = `${s.short ? `${s.short}, ` : '    '}${s.flag}${arg}`;
    return `  ${names.padEnd(30)} ${s.doc}`;
  });
  return `usage: warren-perf [options]\n\nMeasures an AMQP 0-9-1 broker as RabbitMQ's PerfTest does.\n\n${lines.join('\n')}\n      --help                     this text\n`;
}

const EXCHANGE_TYPES = ['', 'direct', 'fanout', 'topic', 'headers'];

export function parsePerfOptions(argv: string[]): PerfOptions {
  const o: PerfOptions = { ...DEFAULTS };
  const seen = new Set<keyof PerfOptions>();
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    const spec = SPECS.find((s) => s.flag === arg || s.short === arg);
    if (!spec) throw new Error(`unknown option ${arg} (see --help)`);
    seen.add(spec.key);
    if (spec.kind === 'bool') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw new Error(`${spec.flag} takes no value or true/false`);
      (o as unknown as Record<string, unknown>)[spec.key] = value !== 'false';
      continue;
    }
    value ??= argv[++i];
    if (value === undefined) throw new Error(`${spec.flag} needs a value`);
    if (spec.kind === 'str') {
      (o as unknown as Record<string, unknown>)[spec.key] = value;
      continue;
    }
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < (spec.min ?? 0) || (spec.kind === 'int' && !Number.isInteger(n))) {
      throw new Error(`${spec.flag} needs ${spec.kind === 'int' ? 'an integer' : 'a number'} of at least ${spec.min ?? 0}, not ${value}`);
    }
    (o as unknown as Record<string, unknown>)[spec.key] = n;
  }
  if (!EXCHANGE_TYPES.includes(o.exchangeType)) throw new Error(`--exchange-type must be direct, fanout, topic or headers, not ${o.exchangeType}`);
  if (o.autoack && (seen.has('prefetch') || seen.has('multiAckEvery'))) throw new Error('--autoack cannot go with --prefetch or --multi-ack-every');
  if (o.producers + o.consumers === 0) throw new Error('nothing to do: no producers and no consumers');
  if (o.prefill > 0 && o.producers === 0) throw new Error('--prefill needs at least one producer');
  if (o.exchange !== '' && o.exchangeType === '') o.exchangeType = 'direct';
  if (o.exchangeType !== '' && o.exchange === '') o.exchange = `warren-perf-${o.exchangeType}`;
  if (o.prefetch > 0 && o.multiAckEvery > o.prefetch) throw new Error('--multi-ack-every above --prefetch would stall the consumers');
  return o;
}

/** The queue names: NAME, or NAME-1..NAME-K. */
export const queueNames = (o: PerfOptions): string[] =>
  o.queues === 1 ? [o.queue] : Array.from({ length: o.queues }, (_, i) => `${o.queue}-${i + 1}`);
