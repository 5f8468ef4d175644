/**
 * Warren as a library: `startBroker()` runs a broker in this process, so a
 * project's tests can embed one.
 *
 *   import { startBroker } from 'warren';
 *   const broker = await startBroker();          // port 0: a free port
 *   const conn = await amqplib.connect(broker.url);
 *   ...
 *   await broker.close();
 *
 * Unlike bin/warren, the defaults suit tests: port 0 (a free port), a fresh
 * temporary data dir removed again by close(), and no log output. Pass
 * `port`, `dataDir` or `logLevel` (or any other BrokerConfig field) to
 * change them.
 *
 * The free disk space monitor (disk_free_limit) runs beside the broker and
 * is stopped by close(); `diskMonitor.setLimit()` changes the limit while
 * running, as `rabbitmqctl set_disk_free_limit` does.
 *
 * The message counters (`stats`, lib/broker/message-stats.ts) are sampled
 * every 5 s for their rates until close(). With the HTTP API on, GET
 * /metrics on its port answers them in Prometheus's text format, without
 * authentication (lib/admin/metrics.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from './broker/broker.js';
import { DiskMonitor } from './broker/disk-monitor.js';
import type { MessageStats, QueueTotals } from './broker/message-stats.js';
import { resolveConfig } from './config/load-config.js';
import type { BrokerConfig } from './config/options.js';
import { createLogger } from './log.js';
import type { Logger } from './log.js';
import { AmqpListener } from './server/amqp-listener.js';
import { HttpApiServer } from './admin/http-server.js';
import { ALL_ROUTES } from './admin/routes/index.js';
import { renderMetrics } from './admin/metrics.js';

export type { BrokerConfig } from './config/options.js';
export type { DiskMonitor } from './broker/disk-monitor.js';
export type { MessageStats } from './broker/message-stats.js';
export type { Logger } from './log.js';

export interface StartBrokerOptions extends Partial<BrokerConfig> {
  /** a logger to use instead of one built from logLevel */
  logger?: Logger;
}

export interface RunningBroker {
  /** the address the AMQP listener is bound to */
  readonly host: string;
  readonly port: number;
  /** amqp://guest:guest@host:port (with the configured default user) */
  readonly url: string;
  readonly config: BrokerConfig;
  readonly broker: Broker;
  readonly listener: AmqpListener;
  /** the management HTTP API's base URL (http://host:port), or null when http_port is 0 */
  readonly httpUrl: string | null;
  /** the free disk space alarm: publishers are blocked while it is set */
  readonly diskMonitor: DiskMonitor;
  /** the broker's message counters and their rates (publish, deliver, ack, confirm...) */
  readonly stats: MessageStats;
  /** Close every connection (320 CONNECTION_FORCED), stop listening, release the data dir if it was temporary. */
  close(): Promise<void>;
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const { logger: givenLogger, ...overrides } = options;
  const tempDir = overrides.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'warren-')) : null;
  const config = resolveConfig(
    { port: 0, logLevel: 'silent', httpPort: 0 },
    overrides,
    tempDir ? { dataDir: tempDir } : {},
  );
  const logger = givenLogger ?? createLogger(config.logLevel);
  let diskMonitor: DiskMonitor | null = null;
  let http: HttpApiServer | null = null;
  let amqp: AmqpListener | null = null;
  let stats: MessageStats | null = null;
  try {
    const broker = await Broker.open(config, logger);
    stats = broker.stats;
    stats.start(() => queueTotals(broker));
    const counters = stats;
    diskMonitor = new DiskMonitor({ dir: config.dataDir, limit: config.diskFreeLimit, logger });
    await diskMonitor.start();
    const listener = new AmqpListener(broker, [diskMonitor]);
    amqp = listener;
    const monitor = diskMonitor;
    const address = await listener.listen(config.port, config.bind);
    const host = address.address;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    const user = encodeURIComponent(config.defaultUser);
    const pass = encodeURIComponent(config.defaultPass);
    logger.info({ address: host, port: address.port, dataDir: config.dataDir }, 'warren listening for AMQP 0-9-1 on %s:%d', host, address.port);
    let httpUrl: string | null = null;
    if (config.httpPort !== 0) {
      const metrics = (): string => renderMetrics({ broker, listener, stats: counters, diskMonitor: monitor });
      http = new HttpApiServer({ broker, listener }, ALL_ROUTES, logger, metrics);
      const h = await http.listen(config.httpPort < 0 ? 0 : config.httpPort, config.httpBind);
      httpUrl = `http://${h.address.includes(':') ? `[${h.address}]` : h.address}:${h.port}`;
      logger.info({ httpAddress: h.address, httpPort: h.port }, 'management HTTP API listening on %s', httpUrl);
    }
    const api = http;
    let closed: Promise<void> | null = null;
    return {
      host,
      port: address.port,
      url: `amqp://${user}:${pass}@${urlHost}:${address.port}`,
      config,
      broker,
      listener,
      httpUrl,
      diskMonitor: monitor,
      stats: counters,
      close(): Promise<void> {
        closed ??= (async () => {
          await api?.close();
          await listener.close();
          monitor.stop();
          counters.stop();
          await broker.persist();
          broker.close();
          if (tempDir) rmSync(tempDir, { recursive: true, force: true });
          logger.info('warren stopped');
        })();
        return closed;
      },
    };
  } catch (err) {
    await http?.close();
    await amqp?.close();
    diskMonitor?.stop();
    stats?.stop();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
}

/** Ready and unacknowledged messages over every queue of every vhost (sampled for queue_totals' rates). */
function queueTotals(broker: Broker): QueueTotals {
  let ready = 0;
  let unacked = 0;
  for (const vh of broker.vhosts.values()) {
    for (const q of vh.queues.values()) {
      ready += q.messageCount;
      unacked += q.unacked;
    }
  }
  return { ready, unacked };
}
