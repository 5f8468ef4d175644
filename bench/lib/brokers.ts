/**
 * The brokers the benchmarks measure (bench/messaging.ts, bench/run.ts): which
 * kinds there are, whether each is installed here and how to install it, its
 * version, and how to start a throwaway one for a run and stop, crash and
 * restart it (RunningBroker). Every broker runs on 127.0.0.1 with a scratch data
 * dir of its own under the OS temp dir, registered with the cleanup registry
 * (bench/lib/bench-process.ts) so that Ctrl-C, SIGTERM and errors leave no
 * process and no temp dir behind; stop() removes the dir.
 *
 *   warren    bin/warren (build first: dist/), started with --port 0 --http-port 0 and a
 *             scratch data dir; the port is the one it logs in "warren listening".
 *   rabbitmq  tools/rabbitmq-scratch.sh on a spare port (scratchPort()) with a scratch
 *             dir; crash() and restart() are its kill9 and restart.
 *   garagemq  the Go broker (Debian package garagemq): `garagemq --config FILE` (it takes
 *             --config, not -config) with a config written into its scratch dir: AMQP and
 *             the admin HTTP server on 127.0.0.1 and two spare ports, the badger db in the
 *             dir, user guest/guest; the other settings are those of the packaged
 *             /etc/garagemq/config.yaml, pinned here. It logs (logrus and badger lines,
 *             one per connection opened and closed at info) to garagemq.log in the dir.
 *             Ready once the AMQP port accepts a TCP connection; stop() is SIGTERM, then
 *             SIGKILL after 10 s; crash() SIGKILL; restart() the same config, dir and ports.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { alive, errorText, portAccepts, registerCleanup, scratchPort, sleep } from './bench-process.js';

/** the repo: this file is bench/lib/brokers.ts, or dist/bench/lib/brokers.js once built */
const ROOT = fileURLToPath(new URL(existsSync(new URL('../../package.json', import.meta.url)) ? '../..' : '../../..', import.meta.url));
const SCRATCH = join(ROOT, 'tools/rabbitmq-scratch.sh');
const WARREN_CLI = join(ROOT, 'dist/lib/cli/warren.js');

// ---- kinds ------------------------------------------------------------------

export const BROKER_KINDS = ['warren', 'rabbitmq', 'garagemq'] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];

/** what tables call them */
export const BROKER_NAMES: Record<BrokerKind, string> = { warren: 'warren', rabbitmq: 'RabbitMQ', garagemq: 'garagemq' };

export function isBrokerKind(s: string): s is BrokerKind {
  return (BROKER_KINDS as readonly string[]).includes(s);
}

export function brokerInstalled(kind: BrokerKind): boolean {
  switch (kind) {
    case 'warren':
      return existsSync(WARREN_CLI);
    case 'rabbitmq':
      return existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') || existsSync('/usr/sbin/rabbitmq-server');
    case 'garagemq':
      return garagemqBin() !== null;
  }
}

/** How to get a broker that brokerInstalled() does not find. */
export function installHint(kind: BrokerKind): string {
  switch (kind) {
    case 'warren':
      return `npm run build (no ${WARREN_CLI})`;
    case 'rabbitmq':
      return 'apt-get install rabbitmq-server';
    case 'garagemq':
      return 'apt-get install garagemq';
  }
}

const versions = new Map<BrokerKind, string>();

/**
 * The broker's version as tables print it ("0.1.0", "3.10.8"): warren's package.json
 * version; for the others the upstream part of the Debian package version (no epoch,
 * no Debian revision, no +ds / +dfsg repack suffix). "unknown" if it cannot be told.
 */
export function brokerVersion(kind: BrokerKind): string {
  if (!versions.has(kind)) versions.set(kind, readVersion(kind) ?? 'unknown');
  return versions.get(kind)!;
}

function readVersion(kind: BrokerKind): string | null {
  switch (kind) {
    case 'warren':
      try {
        return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? null;
      } catch {
        return null;
      }
    case 'rabbitmq':
      return debianUpstreamVersion('rabbitmq-server');
    case 'garagemq':
      return debianUpstreamVersion('garagemq');
  }
}

/** "3.10.8" of "3.10.8-1.1+deb12u1", "0.0~git20200204.15e6a9d" of "0.0~git20200204.15e6a9d+ds-4+b6"; null if not installed. */
function debianUpstreamVersion(pkg: string): string | null {
  let full: string;
  try {
    full = execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
  if (!full) return null;
  const noEpoch = full.replace(/^\d+:/, '');
  const dash = noEpoch.lastIndexOf('-');
  return (dash > 0 ? noEpoch.slice(0, dash) : noEpoch).replace(/[+~](ds|dfsg)\d*$/, '');
}

// ---- running brokers ------------------------------------------------------------

export interface RunningBroker {
  kind: BrokerKind;
  /** BROKER_NAMES[kind]: "warren", "RabbitMQ", "garagemq" */
  name: string;
  /** brokerVersion(kind): "0.1.0", "3.10.8", "0.0~git20200204.15e6a9d" */
  version: string;
  /** both change only through restart() */
  port: number;
  pid: number;
  /** why the broker is not usable any more (it exited), or null */
  dead(): string | null;
  stop(): Promise<void>;
  /** recovery-1M: SIGKILL the broker process and wait until it is gone; its data dir stays */
  crash(): Promise<void>;
  /** recovery-1M: start it again on the same data dir and port; resolves once it accepts connections */
  restart(timeoutMs: number): Promise<void>;
}

/** The process of a broker that runs as our child (warren, garagemq); restart() replaces it. */
interface ChildProc {
  child: ChildProcess | null;
  /** set when the current child exits: why the broker is not usable any more */
  exit: string | null;
}

/**
 * A RunningBroker whose process is our child, in the scratch dir `dir` (removed on stop).
 * launch(proc, port, timeoutMs) spawns it (port 0 the first time: it picks one), stores it
 * in proc.child, sets proc.exit when it exits and resolves with the port once it accepts
 * connections. stop: SIGTERM, then SIGKILL after 10 s; crash: SIGKILL.
 */
async function startChildBroker(kind: BrokerKind, dir: string, launch: (proc: ChildProc, port: number, timeoutMs: number) => Promise<number>): Promise<RunningBroker> {
  const proc: ChildProc = { child: null, exit: null };
  const running = (): boolean => proc.child !== null && proc.child.exitCode === null && proc.child.signalCode === null;
  const stopChild = async (): Promise<void> => {
    if (running()) {
      const c = proc.child!;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = registerCleanup({
    async: stopChild,
    sync: () => {
      if (running()) proc.child!.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  });
  let port: number;
  try {
    port = await launch(proc, 0, 30_000);
  } catch (err) {
    unregister();
    await stopChild();
    throw err;
  }
  const broker: RunningBroker = {
    kind,
    name: BROKER_NAMES[kind],
    version: brokerVersion(kind),
    port,
    pid: proc.child!.pid!,
    dead: () => proc.exit,
    stop: async () => {
      unregister();
      await stopChild();
    },
    crash: async () => {
      if (!running()) return;
      const c = proc.child!;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    restart: async (timeoutMs) => {
      broker.port = await launch(proc, broker.port, timeoutMs);
      broker.pid = proc.child!.pid!;
    },
  };
  return broker;
}

// ---- warren -----------------------------------------------------------------------

export async function startWarren(): Promise<RunningBroker> {
  if (!existsSync(WARREN_CLI)) throw new Error(`${WARREN_CLI} not found: run npm run build first`);
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  /** Start bin/warren on dataDir; resolves with the port it listens on. */
  const launch = (proc: ChildProc, port: number, timeoutMs: number): Promise<number> => {
    proc.exit = null;
    const c = spawn(process.execPath, [join(ROOT, 'bin/warren'), '--port', String(port), '--http-port', '0', '--data-dir', dataDir, '--log-level', 'info'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.child = c;
    // Keep reading both pipes for the broker's whole life: a full pipe would block its (synchronous) logger.
    createInterface({ input: c.stderr! }).on('line', keep);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`warren did not log "warren listening" within ${timeoutMs / 1000} s:\n${tail.join('\n')}`)), timeoutMs);
      createInterface({ input: c.stdout! }).on('line', (line) => {
        keep(line);
        if (!line.includes('warren listening')) return;
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg?.startsWith('warren listening') && typeof entry.port === 'number') {
            clearTimeout(timer);
            resolve(entry.port);
          }
        } catch {
          // not a JSON line
        }
      });
      c.once('exit', (code, signal) => {
        proc.exit = `warren exited (${signal ?? `code ${code}`}); last output:\n${tail.join('\n')}`;
        clearTimeout(timer);
        reject(new Error(proc.exit));
      });
      c.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  };
  return startChildBroker('warren', dataDir, launch);
}

// ---- RabbitMQ ---------------------------------------------------------------------

/** Run tools/rabbitmq-scratch.sh; `started` gets the child (to kill a start that is cut short). */
function scratch(args: string[], timeoutMs: number, started?: (child: ChildProcess) => void, env?: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(SCRATCH, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', ...(env ? { env: { ...process.env, ...env } } : {}) }, (err, stdout, stderr) => {
      if (err) reject(new Error(`rabbitmq-scratch.sh ${args[0]} failed: ${errorText(err)}\n${stderr}`));
      else resolve(stdout);
    });
    started?.(child);
  });
}

export async function startRabbit(): Promise<RunningBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'rabbit-bench-'));
  let starting: ChildProcess | null = null;
  // a start cut short (Ctrl-C) must not go on to launch a node after we stopped "it"
  const killStart = (): void => {
    if (starting && starting.exitCode === null && starting.signalCode === null) starting.kill('SIGKILL');
  };
  const unregister = registerCleanup({
    async: async () => {
      killStart();
      await scratch(['stop', dir], 60_000);
      rmSync(dir, { recursive: true, force: true });
    },
    sync: () => {
      killStart();
      execFileSync(SCRATCH, ['stop', dir], { stdio: 'ignore', timeout: 60_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  });
  const port = await scratchPort();
  let pid: number;
  try {
    pid = Number((await scratch(['start', String(port), dir], 120_000, (c) => (starting = c))).trim().split('\n').pop());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error('rabbitmq-scratch.sh start printed no pid');
  } catch (err) {
    unregister();
    await scratch(['stop', dir], 60_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const broker: RunningBroker = {
    kind: 'rabbitmq',
    name: BROKER_NAMES.rabbitmq,
    version: brokerVersion('rabbitmq'),
    port,
    pid,
    dead: () => (alive(broker.pid) ? null : `RabbitMQ (beam.smp ${broker.pid}) is gone; logs were in ${dir}/log`),
    stop: async () => {
      unregister();
      await scratch(['stop', dir], 60_000).catch((err: unknown) => console.error(errorText(err)));
      rmSync(dir, { recursive: true, force: true });
    },
    crash: async () => {
      await scratch(['kill9', dir], 60_000);
    },
    restart: async (timeoutMs) => {
      const env = { SCRATCH_START_TIMEOUT: String(Math.ceil(timeoutMs / 1000)) };
      const out = await scratch(['restart', dir], timeoutMs + 60_000, (c) => (starting = c), env);
      const newPid = Number(out.trim().split('\n').pop());
      if (!Number.isInteger(newPid) || newPid <= 0) throw new Error('rabbitmq-scratch.sh restart printed no pid');
      broker.pid = newPid;
    },
  };
  return broker;
}

// ---- garagemq ----------------------------------------------------------------------

/** garagemq on $PATH (or /usr/bin), or null */
function garagemqBin(): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/bin'];
  return dirs.map((d) => join(d, 'garagemq')).find((f) => existsSync(f)) ?? null;
}

/** The config: /etc/garagemq/config.yaml as packaged, but for the addresses and the db path. */
function garagemqConfig(amqpPort: number, adminPort: number, dbPath: string): string {
  const guestMd5 = createHash('md5').update('guest').digest('hex');
  return `# Generated by bench/lib/brokers.ts: the packaged defaults, pinned.
proto: amqp-rabbit
users:
  - username: guest
    password: ${guestMd5} # md5 of guest
tcp:
  ip: 127.0.0.1
  port: ${amqpPort}
  nodelay: false
  readBufSize: 196608
  writeBufSize: 196608
admin:
  ip: 127.0.0.1
  port: ${adminPort}
queue:
  shardSize: 8192
  maxMessagesInRam: 131072
db:
  defaultPath: ${JSON.stringify(dbPath)}
  engine: badger
vhost:
  defaultPath: /
security:
  passwordCheck: md5
connection:
  channelsMax: 4096
  frameMaxSize: 65536
`;
}

export async function startGaragemq(): Promise<RunningBroker> {
  const bin = garagemqBin();
  if (!bin) throw new Error(`garagemq not found: ${installHint('garagemq')}`);
  const dir = mkdtempSync(join(tmpdir(), 'garagemq-bench-'));
  const config = join(dir, 'config.yaml');
  const log = join(dir, 'garagemq.log');
  const logTail = (): string => {
    try {
      return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
    } catch {
      return '(no log)';
    }
  };
  /** Start garagemq on the config (the first time, port 0: write it); resolves once its AMQP port accepts a connection. */
  const launch = async (proc: ChildProc, port: number, timeoutMs: number): Promise<number> => {
    if (port === 0) {
      port = await scratchPort();
      let adminPort = await scratchPort();
      while (adminPort === port) adminPort = await scratchPort();
      writeFileSync(config, garagemqConfig(port, adminPort, join(dir, 'db')));
    }
    proc.exit = null;
    // its output goes straight to the log file: no pipe to keep reading
    const fd = openSync(log, 'a');
    let c: ChildProcess;
    try {
      c = spawn(bin, ['--config', config, '--log-level', 'info'], { cwd: dir, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    proc.child = c;
    const gone = new Promise<never>((_, reject) => {
      c.once('exit', (code, signal) => {
        proc.exit = `garagemq exited (${signal ?? `code ${code}`}); last log lines:\n${logTail()}`;
        reject(new Error(proc.exit));
      });
      c.once('error', (err) => {
        proc.exit = `garagemq: ${err.message}`;
        reject(new Error(proc.exit));
      });
    });
    gone.catch(() => undefined);
    const deadline = Date.now() + timeoutMs;
    while (!(await Promise.race([portAccepts(port, 1000), gone]))) {
      if (Date.now() > deadline) throw new Error(`garagemq did not accept connections on port ${port} within ${timeoutMs / 1000} s; last log lines:\n${logTail()}`);
      await Promise.race([sleep(100), gone]);
    }
    return port;
  };
  return startChildBroker('garagemq', dir, launch);
}

/** Start a throwaway broker of that kind (see the header); rejects if it does not come up. */
export function startBroker(kind: BrokerKind): Promise<RunningBroker> {
  switch (kind) {
    case 'warren':
      return startWarren();
    case 'rabbitmq':
      return startRabbit();
    case 'garagemq':
      return startGaragemq();
  }
}
