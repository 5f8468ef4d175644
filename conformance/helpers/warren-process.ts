// Runs bin/warren as a child process, the way a user runs it: on a free port
// (--port 0, the port read from the "listening" log line; the HTTP API on
// another, --http-port -1, unless the test says otherwise) with a temporary
// data dir, and stops it with a signal (or kill -9) when the test ends.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WARREN_BIN = join(REPO_ROOT, 'bin/warren');

export interface WarrenProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  /** the management HTTP API, http://127.0.0.1:PORT (null when started with --http-port 0) */
  readonly httpUrl: string | null;
  readonly dataDir: string;
  /** every line the process wrote to stdout, parsed as JSON where possible */
  readonly logs: Record<string, unknown>[];
  stderr(): string;
  /** Send a signal and wait for the exit; resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  args?: string[];
  /** reuse a data dir (for restart tests); otherwise a fresh temporary one */
  dataDir?: string;
  timeoutMs?: number;
}

/** The environment a user's shell would give bin/warren: without the test runner's loader hooks. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) if (/^(_?TAP|TS_NODE)/.test(key)) delete env[key];
  return env;
}

export function tempDataDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-conformance-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startWarren(t: Test, o: StartOptions = {}): Promise<WarrenProcess> {
  const dataDir = o.dataDir ?? tempDataDir(t);
  const args = o.args ?? [];
  // the HTTP API on a free port too, unless the test chose one (0: off)
  const httpArgs = args.includes('--http-port') ? [] : ['--http-port', '-1'];
  const httpOff = args[args.indexOf('--http-port') + 1] === '0';
  const child = spawn(WARREN_BIN, ['--port', '0', '--bind', '127.0.0.1', '--data-dir', dataDir, ...httpArgs, ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let buffered = '';
  let exit: Promise<number | string> | null = null;
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  let port = 0;
  let httpPort = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warren did not listen within ${o.timeoutMs ?? 10000} ms; stderr: ${stderr}`)), o.timeoutMs ?? 10000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          entry = { raw: line };
        }
        logs.push(entry);
        if (typeof entry.msg === 'string' && entry.msg.startsWith('warren listening') && typeof entry.port === 'number') port = entry.port;
        if (typeof entry.msg === 'string' && entry.msg.startsWith('management HTTP API listening') && typeof entry.httpPort === 'number') httpPort = entry.httpPort;
        if (port !== 0 && (httpPort !== 0 || httpOff)) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`warren exited (${code}) before listening; stderr: ${stderr}`));
    });
  });
  const proc: WarrenProcess = {
    child,
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    httpUrl: httpPort === 0 ? null : `http://127.0.0.1:${httpPort}`,
    dataDir,
    logs,
    stderr: () => stderr,
    stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
      if (!exit) {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        exit = exited;
      }
      return exit;
    },
  };
  t.teardown(() => proc.stop('SIGKILL'));
  return proc;
}

/** Run bin/warren to completion (for --help, bad flags...). */
export function runWarren(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(WARREN_BIN, [...args], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
