/**
 * Connection benchmark: how fast a broker accepts AMQP connections (full
 * handshake through connection.open-ok) and how much memory an idle
 * connection costs it, for warren and, when it is installed, RabbitMQ, in
 * the same run: brokers alternate (warren, RabbitMQ, warren, ...) for a
 * number of rounds and the table shows medians and ratios.
 *
 *   npm run bench:connections [-- --rounds 3 --connections 1000 --rate-connections 3000 --concurrency 50]
 *
 * The client is a minimal raw AMQP handshake (pre-encoded frames, no client
 * library), so it costs far less than the brokers it measures. RSS is read
 * from /proc/PID/status (VmRSS) of the broker process: bin/warren, and
 * RabbitMQ's beam.smp (started by tools/rabbitmq-scratch.sh on a spare port
 * with a scratch data dir, stopped after). Not a test: nothing here passes or fails.
 */
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeMethodFrame } from '../lib/amqp/frame-writer.js';
import { encodeMethod, Method } from '../lib/amqp/generated/methods.js';
import { WireWriter } from '../lib/amqp/wire-writer.js';

const ROOT = fileURLToPath(new URL(existsSync(new URL('../package.json', import.meta.url)) ? '..' : '../..', import.meta.url));
const SCRATCH = join(ROOT, 'tools/rabbitmq-scratch.sh');

interface Options {
  rounds: number;
  connections: number;
  rateConnections: number;
  concurrency: number;
  json: string;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { rounds: 3, connections: 1000, rateConnections: 3000, concurrency: 50, json: join(ROOT, 'bench-results/connections.json') };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--rounds') o.rounds = Number(value);
    else if (flag === '--connections') o.connections = Number(value);
    else if (flag === '--rate-connections') o.rateConnections = Number(value);
    else if (flag === '--concurrency') o.concurrency = Number(value);
    else if (flag === '--json') o.json = String(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  return o;
}

// ---- a minimal handshaking client ------------------------------------------

const HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
function frames(...methods: Parameters<typeof encodeMethod>[1][]): Buffer {
  const w = new WireWriter();
  for (const m of methods) writeMethodFrame(w, 0, encodeMethod, m);
  return w.take();
}
const START_OK = frames({
  id: Method.ConnectionStartOk,
  clientProperties: { product: 'warren connection bench', capabilities: { authentication_failure_close: true } },
  mechanism: 'PLAIN',
  response: Buffer.from('\0guest\0guest'),
  locale: 'en_US',
});
const TUNE_OK_OPEN = frames(
  { id: Method.ConnectionTuneOk, channelMax: 2047, frameMax: 131072, heartbeat: 0 },
  { id: Method.ConnectionOpen, virtualHost: '/' },
);
const CLOSE = frames({ id: Method.ConnectionClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });

/** Opens one connection through connection.open-ok; resolves with the socket. */
function openConnection(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let buf: Buffer = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('error', reject);
    socket.on('connect', () => socket.write(HEADER));
    const onData = (chunk: Buffer): void => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 7) {
        const size = buf.readUInt32BE(3);
        if (buf.length < size + 8) return;
        const id = buf[0] === 1 ? buf.readUInt32BE(7) : 0;
        buf = buf.subarray(size + 8);
        if (id === Method.ConnectionStart) socket.write(START_OK);
        else if (id === Method.ConnectionTune) socket.write(TUNE_OK_OPEN);
        else if (id === Method.ConnectionOpenOk) {
          socket.off('data', onData);
          socket.on('data', () => undefined);
          resolve(socket);
          return;
        } else if (id === Method.ConnectionClose) {
          reject(new Error('broker refused the connection'));
          socket.destroy();
          return;
        }
      }
    };
    socket.on('data', onData);
  });
}

async function openMany(port: number, count: number, concurrency: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      sockets.push(await openConnection(port));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return sockets;
}

async function closeAll(sockets: Socket[]): Promise<void> {
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
    s.once('close', () => resolve());
    s.write(CLOSE);
    setTimeout(() => s.destroy(), 2000).unref();
    s.end();
  })));
}

// ---- brokers ------------------------------------------------------------------

interface RunningBroker {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startWarren(): Promise<RunningBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  const port = await freePort();
  const child: ChildProcess = spawn(join(ROOT, 'bin/warren'), ['--port', String(port), '--http-port', '0', '--data-dir', dataDir, '--log-level', 'warn'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      (await openConnection(port)).destroy();
      break;
    } catch {
      await sleep(100);
    }
  }
  return {
    name: 'warren',
    port,
    pid: child.pid!,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function startRabbit(): Promise<RunningBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'rabbit-bench-'));
  const port = await freePort();
  const pid = Number(execFileSync(SCRATCH, ['start', String(port), dir], { encoding: 'utf8' }).trim().split('\n').pop());
  return {
    name: 'RabbitMQ',
    port,
    pid,
    stop: async () => {
      execFileSync(SCRATCH, ['stop', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- measurement --------------------------------------------------------------

interface RoundResult {
  broker: string;
  connectionsPerSecond: number;
  baselineRssMiB: number;
  rssAtNMiB: number;
  rssPerConnectionKiB: number;
}

async function measure(b: RunningBroker, o: Options): Promise<RoundResult> {
  await closeAll(await openMany(b.port, 200, o.concurrency)); // warm-up
  await sleep(500);
  const t0 = process.hrtime.bigint();
  const burst = await openMany(b.port, o.rateConnections, o.concurrency);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await closeAll(burst);
  await sleep(2000);
  const baseline = rssKiB(b.pid);
  const idle = await openMany(b.port, o.connections, o.concurrency);
  await sleep(3000);
  const loaded = rssKiB(b.pid);
  await closeAll(idle);
  return {
    broker: b.name,
    connectionsPerSecond: o.rateConnections / seconds,
    baselineRssMiB: baseline / 1024,
    rssAtNMiB: loaded / 1024,
    rssPerConnectionKiB: (loaded - baseline) / o.connections,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function hasRabbit(): boolean {
  return existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') || existsSync('/usr/sbin/rabbitmq-server');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const brokers: (() => Promise<RunningBroker>)[] = [startWarren];
  if (hasRabbit()) brokers.push(startRabbit);
  else console.log('RabbitMQ is not installed: measuring warren alone (apt-get install rabbitmq-server to compare)');
  const results: RoundResult[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const start of brokers) {
      const b = await start();
      try {
        const r = await measure(b, o);
        results.push(r);
        console.log(`round ${round} ${r.broker.padEnd(8)} ${r.connectionsPerSecond.toFixed(0).padStart(6)} conn/s   RSS ${r.baselineRssMiB.toFixed(1)} MiB idle, ${r.rssAtNMiB.toFixed(1)} MiB with ${o.connections} connections: ${r.rssPerConnectionKiB.toFixed(1)} KiB each`);
      } finally {
        await b.stop();
      }
    }
  }
  const names = [...new Set(results.map((r) => r.broker))];
  const summary = names.map((name) => {
    const mine = results.filter((r) => r.broker === name);
    return {
      broker: name,
      connectionsPerSecond: median(mine.map((r) => r.connectionsPerSecond)),
      baselineRssMiB: median(mine.map((r) => r.baselineRssMiB)),
      rssPerConnectionKiB: median(mine.map((r) => r.rssPerConnectionKiB)),
    };
  });
  console.log(`\nmedians of ${o.rounds} rounds (${o.rateConnections} connections for the rate, ${o.connections} idle for memory, ${o.concurrency} at a time)`);
  console.log('| broker | connections/s | RSS idle broker (MiB) | RSS per idle connection (KiB) |');
  console.log('|---|---|---|---|');
  for (const s of summary) {
    console.log(`| ${s.broker} | ${s.connectionsPerSecond.toFixed(0)} | ${s.baselineRssMiB.toFixed(1)} | ${s.rssPerConnectionKiB.toFixed(1)} |`);
  }
  const [w, r] = summary;
  if (w && r) {
    console.log(`\nwarren / RabbitMQ: ${(w.connectionsPerSecond / r.connectionsPerSecond).toFixed(2)}x the connection rate, ${(w.rssPerConnectionKiB / r.rssPerConnectionKiB).toFixed(2)}x the memory per connection`);
  }
  mkdirSync(join(o.json, '..'), { recursive: true });
  writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, options: o, rounds: results, medians: summary }, null, 2));
  console.log(`results: ${o.json}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
