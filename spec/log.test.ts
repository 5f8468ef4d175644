// Tests for lib/log.ts: JSON lines, level filtering, 'silent', file descriptors.

import t from 'tap';
import { Writable } from 'node:stream';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, silentLogger } from '../lib/log.js';

function collector(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const lines = (): Record<string, unknown>[] => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, lines };
}

t.test('writes one JSON object per line with name and level', async (t) => {
  const { stream, lines } = collector();
  const log = createLogger('info', stream);
  log.info({ conn: 7 }, 'client connected');
  log.warn('disk low');
  const out = lines();
  t.equal(out.length, 2);
  t.match(out[0], { name: 'warren', level: 30, msg: 'client connected', conn: 7 });
  t.type(out[0]!.time, 'number');
  t.match(out[1], { name: 'warren', level: 40, msg: 'disk low' });
});

t.test('drops lines below the level', async (t) => {
  const { stream, lines } = collector();
  const log = createLogger('warn', stream);
  log.debug('no');
  log.info('no');
  log.warn('yes');
  log.error('yes too');
  t.same(lines().map((l) => l.msg), ['yes', 'yes too']);
  t.equal(log.level, 'warn');
});

t.test('debug and trace pass at trace level', async (t) => {
  const { stream, lines } = collector();
  const log = createLogger('trace', stream);
  log.trace('t');
  log.debug('d');
  t.same(lines().map((l) => l.level), [10, 20]);
});

t.test("'silent' writes nothing", async (t) => {
  const { stream, lines } = collector();
  const log = createLogger('silent', stream);
  log.fatal('nothing');
  log.error('nothing');
  t.same(lines(), []);
  t.equal(silentLogger().level, 'silent');
  t.equal(silentLogger().isLevelEnabled('fatal'), false);
});

t.test('child loggers keep the name and add bindings', async (t) => {
  const { stream, lines } = collector();
  createLogger('info', stream).child({ vhost: '/' }).info('hi');
  t.match(lines()[0], { name: 'warren', vhost: '/', msg: 'hi' });
});

t.test('writes synchronously to a file descriptor', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'out.log');
  const fd = openSync(path, 'w');
  const log = createLogger('info', fd);
  log.error({ code: 1 }, 'fatal-ish');
  const written = readFileSync(path, 'utf8');
  closeSync(fd);
  t.match(JSON.parse(written.trim()), { name: 'warren', level: 50, msg: 'fatal-ish', code: 1 });
});

t.test('rejects an unknown level', async (t) => {
  t.throws(() => createLogger('loud', collector().stream));
});
