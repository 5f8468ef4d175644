// Starts a broker in-process on a free port with its own temporary data dir,
// closed again when the test ends.
import type { Test } from 'tap';
import { startBroker } from '../../lib/index.js';
import type { RunningBroker, StartBrokerOptions } from '../../lib/index.js';

export async function withBroker(t: Test, options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const broker = await startBroker({ bind: '127.0.0.1', ...options });
  t.teardown(() => broker.close());
  return broker;
}
