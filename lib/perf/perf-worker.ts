/**
 * A warren-perf worker thread: opens one connection per role it is given
 * (producers and consumers, lib/perf/perf-producer.ts and perf-consumer.ts),
 * then follows the main thread (lib/perf/perf-run.ts): start consumers, start
 * producers, stop, report, close. Counters go through the shared Int32Array
 * so that no hot loop waits for a message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Histogram } from './histogram.js';
import { Consumer } from './perf-consumer.js';
import { Producer } from './perf-producer.js';
import type { FromPerfWorker, PerfWorkerData, ToPerfWorker } from './perf-shared.js';
import { RawConnection } from './raw-connection.js';

const port = parentPort!;
const send = (m: FromPerfWorker): void => port.postMessage(m);
const fatal = (err: unknown): void => send({ type: 'error', message: err instanceof Error ? err.message : String(err) });

async function main(d: PerfWorkerData): Promise<void> {
  const conns: RawConnection[] = [];
  const producers: Producer[] = [];
  const consumers: Consumer[] = [];
  port.on('message', (m: ToPerfWorker) => {
    switch (m.type) {
      case 'start-consumers':
        for (const c of consumers) c.start().catch(fatal);
        return;
      case 'start-producers':
        for (const p of producers) p.start();
        return;
      case 'stop':
        for (const p of producers) p.stop();
        return;
      case 'reset-latency':
        for (const p of producers) p.confirmLatency.reset();
        for (const c of consumers) c.latency.reset();
        return;
      case 'report': {
        const endToEnd = new Histogram();
        const confirm = new Histogram();
        for (const c of consumers) endToEnd.merge(c.latency);
        for (const p of producers) confirm.merge(p.confirmLatency);
        const sum = <T>(xs: T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);
        send({
          type: 'report',
          endToEnd: { counts: endToEnd.counts, samples: endToEnd.samples, min: endToEnd.min, max: endToEnd.max },
          confirm: { counts: confirm.counts, samples: confirm.samples, min: confirm.min, max: confirm.max },
          published: sum(producers, (p) => p.published),
          confirmed: sum(producers, (p) => p.confirmed),
          nacked: sum(producers, (p) => p.nacked),
          received: sum(consumers, (c) => c.received),
        });
        return;
      }
      case 'close':
        for (const p of producers) p.stop();
        void Promise.all(conns.map((c) => c.close())).finally(() => {
          send({ type: 'closed' });
          port.close();
        });
        return;
    }
  });
  let producing = 0;
  for (const role of d.roles) {
    const name = `${role.kind} ${role.index + 1}`;
    const conn = await RawConnection.open(d.target, name);
    conn.onError = fatal;
    conns.push(conn);
    if (role.kind === 'producer') {
      const p = await Producer.open(conn, role, d.shared);
      if (role.total > 0) {
        producing++;
        p.onDone = () => {
          if (--producing === 0) send({ type: 'producers-done' });
        };
      }
      producers.push(p);
    } else {
      consumers.push(await Consumer.open(conn, role, d.shared));
    }
  }
  send({ type: 'ready' });
}

main(workerData as PerfWorkerData).catch(fatal);
