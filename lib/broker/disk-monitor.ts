/**
 * The free disk space alarm (RabbitMQ's rabbit_disk_monitor): watches the
 * free space of the file system holding the data dir and raises an alarm
 * while it is below the limit (`disk_free_limit`). What the alarm does to
 * connections (publishers are blocked) is lib/server/'s business: it
 * subscribes here; this file knows nothing about sockets.
 *
 * Free space is what an unprivileged process may use: statfs's
 * bavail * bsize, as `df` reports it. Checks run on a timer spaced as
 * RabbitMQ spaces them: assuming the disk fills at 250 MB/s, the next check
 * comes before the headroom could be gone (2 * (free - limit) / rate),
 * between 100 ms and 10 s; while the alarm is set, every 10 s.
 */
import { statfs } from 'node:fs/promises';
import { parseInformationUnit } from '../config/information-units.js';
import type { Logger } from '../log.js';

/** RabbitMQ's FAST_RATE: 250 MB/s, in bytes per millisecond. */
const FAST_RATE = 250_000;
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 10_000;

export type AlarmListener = (alarmed: boolean) => void;

/** Free bytes of the file system holding `dir`. */
export type FreeSpaceProbe = (dir: string) => Promise<number>;

export const statfsFreeSpace: FreeSpaceProbe = async (dir) => {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
};

export interface DiskMonitorOptions {
  /** a directory on the file system to watch (the data dir) */
  dir: string;
  /** the alarm is set while free space is below this many bytes */
  limit: number;
  logger: Logger;
  /** how free space is measured; statfs by default (tests pass their own) */
  probe?: FreeSpaceProbe;
}

export class DiskMonitor {
  /** the resource this alarm is about, as RabbitMQ names it in "low on disk" */
  readonly resource = 'disk';
  readonly dir: string;
  private limitBytes: number;
  private alarm = false;
  /** free bytes at the last successful check; undefined before one */
  private lastFree: number | undefined;
  private readonly logger: Logger;
  private readonly probe: FreeSpaceProbe;
  private readonly listeners = new Set<AlarmListener>();
  private timer: NodeJS.Timeout | null = null;
  /** checks run one after another: the latest limit is always the one applied */
  private queue: Promise<void> = Promise.resolve();
  private failing = false;
  private stopped = false;

  constructor(options: DiskMonitorOptions) {
    this.dir = options.dir;
    this.limitBytes = checkLimit(options.limit);
    this.logger = options.logger;
    this.probe = options.probe ?? statfsFreeSpace;
  }

  /** Whether free disk space is below the limit (as of the last check). */
  get alarmed(): boolean {
    return this.alarm;
  }

  get limit(): number {
    return this.limitBytes;
  }

  /** Free bytes found by the last successful check. */
  get free(): number | undefined {
    return this.lastFree;
  }

  /** Listeners subscribed now (a connection unsubscribes when it goes). */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Log the limit, check once, then keep checking on the timer. */
  async start(): Promise<void> {
    this.logger.info({ limit: this.limitBytes, dir: this.dir }, 'disk free limit set to %d bytes', this.limitBytes);
    await this.check();
  }

  /** `listener(alarmed)` on every change of the alarm; returns the function that unsubscribes. */
  subscribe(listener: AlarmListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Change the limit while running (`rabbitmqctl set_disk_free_limit`):
   * bytes, or a string with an information unit ("1GB"). Checks at once;
   * resolves when that check is done.
   */
  setLimit(limit: number | string): Promise<void> {
    this.limitBytes = checkLimit(limit);
    this.logger.info({ limit: this.limitBytes }, 'disk free limit set to %d bytes', this.limitBytes);
    return this.check();
  }

  /** Measure free space now and set or clear the alarm; resolves when done. */
  check(): Promise<void> {
    const run = this.queue.then(() => this.update());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** No more checks; listeners are dropped. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  private async update(): Promise<void> {
    if (this.stopped) return;
    let free: number;
    try {
      free = await this.probe(this.dir);
    } catch (err) {
      // RabbitMQ leaves the alarm as it is when it cannot measure; so does this
      if (!this.failing) this.logger.warn({ err, dir: this.dir }, 'cannot measure free disk space');
      this.failing = true;
      this.schedule(MAX_INTERVAL_MS);
      return;
    }
    if (this.stopped) return;
    this.failing = false;
    this.lastFree = free;
    this.setAlarm(free < this.limitBytes, free);
    this.schedule(this.interval(free));
  }

  private setAlarm(alarmed: boolean, free: number): void {
    if (alarmed === this.alarm) return;
    this.alarm = alarmed;
    const limit = this.limitBytes;
    if (alarmed) {
      this.logger.warn({ free, limit }, 'free disk space is below the limit: publishers will be blocked until this alarm clears');
    } else {
      this.logger.info({ free, limit }, 'free disk space is above the limit again: the disk alarm is cleared');
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(alarmed);
      } catch (err) {
        this.logger.error({ err }, 'disk alarm listener failed');
      }
    }
  }

  /** RabbitMQ's interval(): soon when the headroom is small, at most every 10 s. */
  private interval(free: number): number {
    if (this.alarm) return MAX_INTERVAL_MS;
    const ideal = (2 * (free - this.limitBytes)) / FAST_RATE;
    return Math.trunc(Math.max(MIN_INTERVAL_MS, Math.min(MAX_INTERVAL_MS, ideal)));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.check().catch((err: unknown) => this.logger.error({ err }, 'free disk space check failed'));
    }, ms);
    this.timer.unref();
  }
}

function checkLimit(limit: number | string): number {
  const bytes = typeof limit === 'string' ? parseInformationUnit(limit.trim()) : limit;
  if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < 0) {
    throw new RangeError(`disk free limit must be a byte count of at least 0 (or a size such as 50MB), got ${String(limit)}`);
  }
  return bytes;
}
