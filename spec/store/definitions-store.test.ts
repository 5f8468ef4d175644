/**
 * Tests for lib/store/definitions-store.ts: RabbitMQ definitions JSON,
 * validation, and the atomic, coalescing definitions file.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DefinitionsError,
  DefinitionsStore,
  emptyDefinitions,
  normalizeDefinitions,
} from '../../lib/store/definitions-store.js';
import type { Definitions } from '../../lib/store/definitions-store.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-defs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function withUser(name: string): Definitions {
  const d = emptyDefinitions();
  d.users.push({ name, password_hash: 'kI3GChNpte2FApYFXScl+0dIluk=', hashing_algorithm: 'rabbit_password_hashing_md5', tags: [] });
  return d;
}

/** Shape of a `rabbitmqctl export_definitions` file from RabbitMQ 3.8 (tags as a string). */
const RABBIT_3X_EXPORT = {
  rabbit_version: '3.8.9',
  rabbitmq_version: '3.8.9',
  product_name: 'RabbitMQ',
  product_version: '3.8.9',
  users: [
    {
      name: 'guest',
      password_hash: 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR',
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: 'administrator',
    },
    {
      name: 'ops',
      password_hash: 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR',
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: 'monitoring, management',
    },
    { name: 'svc', password_hash: '', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: '' },
  ],
  vhosts: [{ name: '/' }, { name: 'dev', description: 'dev env', tags: [], default_queue_type: 'classic' }],
  permissions: [{ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' }],
  topic_permissions: [],
  parameters: [],
  global_parameters: [{ name: 'cluster_name', value: 'rabbit@host' }],
  policies: [],
  queues: [{ name: 'q1', vhost: '/', durable: true, auto_delete: false, arguments: {} }],
  exchanges: [],
  bindings: [],
};

t.test('load: no data dir or no file means first boot', async (t) => {
  const dir = tempDir(t);
  t.equal(new DefinitionsStore(join(dir, 'missing')).load(), null);
  const store = new DefinitionsStore(dir);
  t.equal(store.path, join(dir, 'definitions.json'));
  t.equal(store.load(), null);
});

t.test('save then load round-trips, creating the data dir', async (t) => {
  const dir = join(tempDir(t), 'nested', 'data');
  const store = new DefinitionsStore(dir);
  const defs = normalizeDefinitions(RABBIT_3X_EXPORT, 'fixture');
  await store.save(defs);
  t.equal(store.writeCount, 1);
  const back = new DefinitionsStore(dir).load();
  t.same(back, defs);
  t.equal(statSync(store.path).mode & 0o777, 0o600, 'password hashes are not world-readable');
  const raw = JSON.parse(readFileSync(store.path, 'utf8'));
  t.same(raw.users[1].tags, ['monitoring', 'management'], 'tags written as an array');
  t.same(readdirSync(dir), ['definitions.json'], 'no temp file left');
});

t.test('RabbitMQ 3.x export (tags as a string) loads', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'definitions.json'), JSON.stringify(RABBIT_3X_EXPORT, null, 2));
  const defs = new DefinitionsStore(dir).load();
  t.ok(defs);
  t.same(defs!.users.map((u) => u.tags), [['administrator'], ['monitoring', 'management'], []]);
  t.equal(defs!.rabbit_version, '3.8.9');
  t.equal(defs!.vhosts[1]!.description, 'dev env');
  t.same(defs!.permissions, RABBIT_3X_EXPORT.permissions);
  t.same(defs!.queues, RABBIT_3X_EXPORT.queues);
  t.same(defs!.global_parameters, RABBIT_3X_EXPORT.global_parameters);
});

t.test('normalizeDefinitions: defaults and legacy fields', async (t) => {
  const minimal = normalizeDefinitions({ users: [{ name: 'a', password_hash: 'x', tags: ['t '] }] }, 'src');
  t.same(minimal.vhosts, []);
  t.same(minimal.bindings, []);
  t.equal(minimal.users[0]!.hashing_algorithm, 'rabbit_password_hashing_sha256', 'default algorithm');
  t.same(minimal.users[0]!.tags, ['t']);
  const old = normalizeDefinitions({ rabbit_version: '3.5.7', users: [{ name: 'a', password_hash: 'x', administrator: 'true' }] }, 'src');
  t.equal(old.users[0]!.hashing_algorithm, 'rabbit_password_hashing_md5', 'pre-3.6 files are MD5');
  t.same(old.users[0]!.tags, ['administrator']);
  t.notOk('administrator' in old.users[0]!);
  const plain = normalizeDefinitions({ users: [{ name: 'p', password: 'pw', tags: '' }] }, 'src');
  t.equal(plain.users[0]!.password, 'pw');
  t.equal(plain.users[0]!.password_hash, '');
  const withLimits = normalizeDefinitions({ users: [{ name: 'l', password_hash: '', tags: [], limits: { 'max-connections': 5 } }] }, 's');
  t.same(withLimits.users[0]!.limits, { 'max-connections': 5 });
  t.same(normalizeDefinitions({}, 'src'), emptyDefinitions());
});

t.test('normalizeDefinitions: errors name the source and the field', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /^src: definitions must be a JSON object/],
    [null, /^src: definitions must be a JSON object/],
    [{ users: {} }, /^src: "users" must be an array/],
    [{ queues: 'x' }, /^src: "queues" must be an array/],
    [{ users: [{ password_hash: 'x', tags: [] }] }, /^src: users\[0\]\.name is missing/],
    [{ users: [{ name: 1, tags: [] }] }, /^src: users\[0\]\.name must be a string/],
    [{ users: [{ name: 'a', tags: 5 }] }, /^src: users\[0\]\.tags must be/],
    [{ users: [{ name: 'a', tags: [1] }] }, /^src: users\[0\]\.tags\[0\] must be a string/],
    [{ users: ['a'] }, /^src: users\[0\] must be an object/],
    [{ vhosts: [{}] }, /^src: vhosts\[0\]\.name is missing/],
    [{ permissions: [{ user: 'a', vhost: '/', configure: '', write: '' }] }, /^src: permissions\[0\]\.read is missing/],
    [{ rabbit_version: 3 }, /^src: definitions\.rabbit_version must be a string/],
  ];
  for (const [raw, re] of cases) {
    t.throws(() => normalizeDefinitions(raw, 'src'), { name: 'DefinitionsError', message: re }, JSON.stringify(raw));
  }
});

t.test('an unparsable or invalid file is an error naming the path', async (t) => {
  const dir = tempDir(t);
  const store = new DefinitionsStore(dir);
  writeFileSync(store.path, '{"users": [');
  t.throws(() => store.load(), DefinitionsError);
  try {
    store.load();
  } catch (err) {
    t.match((err as Error).message, store.path);
    t.match((err as Error).message, /cannot parse definitions/);
  }
  writeFileSync(store.path, '');
  t.throws(() => store.load(), { message: /cannot parse definitions/ }, 'an empty file is not first boot');
  writeFileSync(store.path, JSON.stringify({ users: [{ name: 7 }] }));
  t.throws(() => store.load(), { message: `${store.path}: users[0].name must be a string` });
  t.ok(readFileSync(store.path, 'utf8').length > 0, 'the bad file is left alone');
});

t.test('a temp file left by a crash is ignored and removed', async (t) => {
  const dir = tempDir(t);
  const store = new DefinitionsStore(dir);
  await store.save(withUser('committed'));
  const stray = join(dir, 'definitions.json.tmp-99999-3');
  writeFileSync(stray, '{"users": [{"name": "half-writ');
  writeFileSync(join(dir, 'other-file'), 'keep me');
  const defs = store.load();
  t.same(defs!.users.map((u) => u.name), ['committed']);
  t.same(readdirSync(dir).sort(), ['definitions.json', 'other-file']);
  // a crash before the first rename: only a temp file, no definitions -> first boot
  const dir2 = tempDir(t);
  writeFileSync(join(dir2, 'definitions.json.tmp-1-1'), '{}');
  t.equal(new DefinitionsStore(dir2).load(), null);
  t.same(readdirSync(dir2), []);
});

t.test('concurrent saves coalesce; every promise waits for its state', async (t) => {
  const dir = tempDir(t);
  const store = new DefinitionsStore(dir);
  const onDisk = (): string => JSON.parse(readFileSync(store.path, 'utf8')).users[0].name;
  const order: string[] = [];
  const saves: Array<Promise<void>> = [];
  for (let i = 0; i < 20; i++) {
    const defs = withUser(`u${i}`);
    saves.push(store.save(defs).then(() => void order.push(`${i}:${onDisk()}`)));
    defs.users[0]!.name = 'mutated-after-save'; // state is captured at save() time
  }
  await Promise.all(saves);
  t.ok(store.writeCount <= 2, `20 saves in one tick -> ${store.writeCount} write(s)`);
  t.equal(onDisk(), 'u19', 'final file holds the last state');
  t.equal(order.length, 20);
  for (const entry of order) t.equal(entry.split(':')[1], 'u19', `resolved after its state was written: ${entry}`);

  // saves arriving while a write is in flight are folded into one next write
  const before = store.writeCount;
  const first = store.save(withUser('a0'));
  await new Promise((r) => setImmediate(r));
  const more = Array.from({ length: 10 }, (_, i) => store.save(withUser(`b${i}`)));
  await Promise.all([first, ...more]);
  t.ok(store.writeCount - before <= 2, `in-flight saves coalesced (${store.writeCount - before} writes)`);
  t.equal(onDisk(), 'b9');
});

t.test('a failed save rejects and leaves the previous file intact', async (t) => {
  const dir = tempDir(t);
  let failRename = false;
  let tmpAtRename: string | null = null;
  const store = new DefinitionsStore(dir, {
    rename: async (from, to) => {
      tmpAtRename = readFileSync(from, 'utf8'); // the temp file is complete before the rename
      if (failRename) throw Object.assign(new Error('simulated crash before rename'), { code: 'EIO' });
      await rename(from, to);
    },
  });
  await store.save(withUser('old'));
  t.same(JSON.parse(tmpAtRename!).users[0].name, 'old');

  failRename = true;
  await t.rejects(store.save(withUser('new')), { message: 'simulated crash before rename' });
  t.same(JSON.parse(tmpAtRename!).users[0].name, 'new', 'new state was fully written to the temp file');
  t.same(new DefinitionsStore(dir).load()!.users.map((u) => u.name), ['old'], 'old content intact');
  t.same(readdirSync(dir), ['definitions.json'], 'failed temp file removed');

  failRename = false;
  await store.save(withUser('newer'));
  t.same(new DefinitionsStore(dir).load()!.users.map((u) => u.name), ['newer'], 'store recovers');
});

t.test('a save that cannot write rejects; invalid definitions are refused', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  await t.rejects(new DefinitionsStore(join(file, 'data')).save(emptyDefinitions()));
  const store = new DefinitionsStore(dir);
  await t.rejects(store.save({ users: 'nope' } as unknown as Definitions), DefinitionsError);
  t.equal(store.writeCount, 0);
  t.equal(store.load(), null, 'nothing was written');
});
