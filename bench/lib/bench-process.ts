/**
 * The process side of the benchmark runners (bench/messaging.ts, bench/run.ts):
 * what does not depend on any runner's options or workloads.
 *
 *   - the cleanup registry: everything a run starts (broker processes, worker
 *     threads, temp dirs) registers how to undo it; cleanupAll() undoes it all,
 *     newest first, on the normal path, and installSignalHandlers() makes
 *     SIGINT / SIGTERM / SIGHUP do the same and exit, with a synchronous last
 *     resort on 'exit'. One registry per process (module state).
 *   - small helpers: sleep, withTimeout, errorText, median;
 *   - /proc readings of a process: rssKiB (VmRSS), cpuSeconds (user + system);
 *   - alive(pid); portFree(port), portAccepts(port); scratchPort(): a free port in
 *     the range the repo's tools use for scratch brokers.
 *
 * Linux only (/proc).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

// ---- cleanup ------------------------------------------------------------------

/** Everything to undo on exit: async for the normal path and signals, sync as the last resort on 'exit'. */
export interface Cleanup {
  async(): Promise<void>;
  sync(): void;
}
const cleanups = new Set<Cleanup>();

/** Register c; returns the function that unregisters it (call it once c's work is undone). */
export function registerCleanup(c: Cleanup): () => void {
  cleanups.add(c);
  return () => cleanups.delete(c);
}

let exiting = false;

/** True once a signal asked the process to stop: runners stop starting new work. */
export function isExiting(): boolean {
  return exiting;
}

/** Undo everything registered, newest first; a failing async() falls back to its sync(). */
export async function cleanupAll(): Promise<void> {
  for (const c of [...cleanups].reverse()) {
    cleanups.delete(c);
    try {
      await c.async();
    } catch {
      try {
        c.sync();
      } catch {
        // best effort
      }
    }
  }
}

/** SIGINT, SIGTERM, SIGHUP: cleanupAll(), then exit (130 / 143; forced after 60 s); on 'exit', every sync(). */
export function installSignalHandlers(): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (exiting) return;
    exiting = true;
    console.error(`\n${signal}: stopping brokers and workers...`);
    const force = setTimeout(() => process.exit(130), 60_000);
    force.unref();
    void cleanupAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', () => {
    for (const c of [...cleanups].reverse()) {
      try {
        c.sync();
      } catch {
        // best effort
      }
    }
    cleanups.clear();
  });
}

// ---- small helpers --------------------------------------------------------------

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** p, or a rejection "<what>: no answer within N s" after ms. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ---- processes and ports ----------------------------------------------------------

/** Resident set size (VmRSS) of the process, in KiB. */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

/** CPU seconds (user + system) the process has used, from /proc/PID/stat; all its threads. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True if nothing listens on 127.0.0.1:port (we could bind it just now). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port in 25700..26700 (the range the repo's tools use for scratch brokers). */
export async function scratchPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 25700 + Math.floor(Math.random() * 1001);
    if (await portFree(port)) return port;
  }
  throw new Error('no free port in 25700..26700');
}

/** True if something accepts a TCP connection on 127.0.0.1:port within timeoutMs (the connection is closed at once). */
export function portAccepts(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
