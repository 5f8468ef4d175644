// bin/warren as users and scripts run it: flags over YAML over defaults, one
// log line when listening, SIGTERM / SIGINT closing clients with 320 and
// exiting 0, clear errors for bad flags, state kept in the data dir.
import t from 'tap';
import amqplib from 'amqplib';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runWarren, startWarren, tempDataDir } from './helpers/warren-process.js';
import { RawClient } from '../spec/helpers/raw-client.js';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: clients get 320 CONNECTION_FORCED, the process exits 0`, async (t) => {
    const w = await startWarren(t);
    t.equal(w.logs.filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('warren listening')).length, 1, 'one listening line');
    const conn = await amqplib.connect(w.url);
    const closed = new Promise<Error & { code?: number }>((resolve) => conn.on('close', resolve));
    const code = await w.stop(signal);
    t.equal(code, 0, 'exit code 0');
    const err = await closed;
    t.equal(err.code, 320);
    t.ok(w.logs.some((l) => l.msg === 'connection opened' && l.user === 'guest'), 'connection opened is logged');
    t.ok(w.logs.some((l) => l.msg === 'connection closed' && typeof l.reason === 'string' && (l.reason as string).includes('CONNECTION_FORCED')), 'connection closed is logged with its reason');
  });
}

t.test('flags override the YAML file, which overrides the defaults', async (t) => {
  const dir = tempDataDir(t);
  const file = join(dir, 'warren.yaml');
  writeFileSync(file, 'heartbeat: 30\nchannel_max: 100\nlog_level: debug\n');
  const w = await startWarren(t, { args: ['--config', file, '--heartbeat', '20', '--log-level', 'info'] });
  const c = await RawClient.connect(w.port);
  const { tune } = await c.handshake();
  t.equal(tune.heartbeat, 20, 'flag beats YAML');
  t.equal(tune.channelMax, 100, 'YAML beats default');
  t.equal(tune.frameMax, 131072, 'default');
  t.notOk(w.logs.some((l) => l.level === 20), 'no debug lines at --log-level info');
  c.destroy();
});

t.test('bad flags and bad YAML: one clear line on stderr, exit 2', async (t) => {
  const dir = tempDataDir(t);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'prot: 5672\n');
  for (const [args, pattern] of [
    [['--no-such-flag'], /--no-such-flag/],
    [['--port', 'seventy'], /--port/],
    [['--config', join(dir, 'missing.yaml')], /missing\.yaml/],
    [['--config', bad], /prot/],
  ] as const) {
    const r = await runWarren([...args]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, pattern);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const help = await runWarren(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--data-dir/);
});

t.test('a port in use is a clear failure to start', async (t) => {
  const first = await startWarren(t);
  const r = await runWarren(['--port', String(first.port), '--data-dir', tempDataDir(t)]);
  t.equal(r.code, 1);
  t.match(r.stderr, /EADDRINUSE|address already in use/);
});

t.test('the data dir holds the definitions; YAML users survive a kill -9', async (t) => {
  const dataDir = tempDataDir(t);
  const yaml = join(dataDir, 'users.yaml');
  writeFileSync(yaml, 'users:\n  - name: alice\n    password: secret\n    permissions:\n      - { vhost: "/", configure: ".*", write: ".*", read: ".*" }\n');
  const first = await startWarren(t, { dataDir, args: ['--config', yaml] });
  t.ok(existsSync(join(dataDir, 'definitions.json')), 'definitions written on first start');
  t.equal(await first.stop('SIGKILL'), 'SIGKILL');
  const second = await startWarren(t, { dataDir });
  const conn = await amqplib.connect(`amqp://alice:secret@127.0.0.1:${second.port}`);
  t.ok(conn, 'alice logs in after a kill -9 and a restart without the YAML');
  await conn.close();
  t.equal(await second.stop(), 0);
});
