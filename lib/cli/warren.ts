/**
 * bin/warren: run the broker in the foreground.
 *
 *   warren [--config FILE] [--port N] [--bind ADDR] [--data-dir DIR] [--log-level LEVEL] [options]
 *
 * Flags override the YAML file, which overrides the defaults (lib/config/).
 * On SIGTERM or SIGINT every connection gets connection.close 320
 * CONNECTION_FORCED, state is flushed, and the process exits 0. Bad flags or
 * configuration: one line on stderr, exit 2. A failure to start: exit 1.
 */
import { ConfigError, helpText, loadConfig } from '../config/load-config.js';
import { createLogger } from '../log.js';
import { startBroker } from '../index.js';
import { WARREN_VERSION } from '../server/server-properties.js';

export async function main(argv: string[]): Promise<number> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`warren: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (loaded.help) {
    process.stdout.write(helpText() + '\n');
    return 0;
  }
  if (loaded.version) {
    process.stdout.write(`warren ${WARREN_VERSION}\n`);
    return 0;
  }
  const { config } = loaded;
  const logger = createLogger(config.logLevel);
  let running: Awaited<ReturnType<typeof startBroker>>;
  try {
    running = await startBroker({ ...config, logger });
  } catch (err) {
    logger.fatal({ err }, 'warren failed to start');
    process.stderr.write(`warren: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      running.close().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'error during shutdown');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
