// The broker's logger: pino writing newline-delimited JSON, to stdout by
// default. File descriptors are written synchronously so that a line logged
// just before process.exit is not lost.

import { pino } from 'pino';

export type Logger = pino.Logger;

/**
 * A logger at `level` (fatal, error, warn, info, debug, trace or silent) that
 * writes JSON lines to `destination`: a stream, or a file descriptor (default 1, stdout).
 */
export function createLogger(level: string, destination: NodeJS.WritableStream | number = 1): Logger {
  const stream = typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination;
  return pino({ name: 'warren', level }, stream);
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ name: 'warren', level: 'silent' });
}
