// The broker's users and vhosts: first-start defaults, the loopback-only
// rule for guest, YAML-listed users, and what survives a restart.
import t from 'tap';
import type * as Tap from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, isLoopbackAddress } from '../../lib/broker/broker.js';
import { resolveConfig } from '../../lib/config/load-config.js';
import type { BrokerConfig } from '../../lib/config/options.js';
import { silentLogger } from '../../lib/log.js';

function dataDir(t: Tap.Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-broker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
const open = (cfg: Partial<BrokerConfig>): Promise<Broker> => Broker.open(resolveConfig(cfg), silentLogger());

t.test('loopback addresses', async (t) => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) t.ok(isLoopbackAddress(a), a);
  for (const a of ['10.0.0.5', '192.168.1.1', '::ffff:10.0.0.1', 'fe80::1', '', '128.0.0.1']) t.notOk(isLoopbackAddress(a), a);
});

t.test('guest may only log in from loopback, unless loopback_users says otherwise', async (t) => {
  const b = await open({ dataDir: dataDir(t) });
  t.match(b.authenticate('guest', 'guest', '127.0.0.1'), { ok: true });
  t.match(b.authenticate('guest', 'guest', '::ffff:127.0.0.1'), { ok: true });
  t.same(b.authenticate('guest', 'guest', '10.0.0.5'), { ok: false, reason: "user 'guest' can only connect via localhost" });
  t.match(b.authenticate('guest', 'wrong', '127.0.0.1'), { ok: false });
  const open2 = await open({ dataDir: dataDir(t), loopbackUsers: [] });
  t.match(open2.authenticate('guest', 'guest', '10.0.0.5'), { ok: true }, 'allowed with loopback_users: []');
});

t.test('first start creates the default vhost and user; a restart restores them', async (t) => {
  const dir = dataDir(t);
  const first = await open({ dataDir: dir, defaultUser: 'admin', defaultPass: 's3cret', defaultVhost: 'main' });
  t.same([...first.vhosts.keys()], ['main']);
  t.equal(first.vhostAccess('admin', 'main'), 'ok');
  t.equal(first.vhostAccess('admin', '/'), 'no-vhost');
  const stored = JSON.parse(readFileSync(join(dir, 'definitions.json'), 'utf8')) as { users: { name: string; password_hash: string; hashing_algorithm: string; tags: string[] }[] };
  t.equal(stored.users[0]!.name, 'admin');
  t.equal(stored.users[0]!.hashing_algorithm, 'rabbit_password_hashing_sha256');
  t.notMatch(stored.users[0]!.password_hash, /s3cret/, 'only the salted hash is stored');
  t.same(stored.users[0]!.tags, ['administrator']);
  // a restart with other defaults does not create them again: the data dir wins
  const second = await open({ dataDir: dir, defaultUser: 'other', defaultPass: 'x' });
  t.match(second.authenticate('admin', 's3cret', '127.0.0.1'), { ok: true });
  t.equal(second.users.get('other'), undefined);
});

t.test('users listed in the YAML are created, updated, and persisted', async (t) => {
  const dir = dataDir(t);
  const users = [{ name: 'app', password: 'one', tags: ['monitoring'], permissions: [{ vhost: 'orders', configure: '^app\\.', write: '.*', read: '.*' }] }];
  const first = await open({ dataDir: dir, users });
  t.equal(first.vhostAccess('app', 'orders'), 'ok', 'vhost of a permission is created');
  t.equal(first.vhostAccess('app', '/'), 'refused', 'no permission on /');
  t.match(first.authenticate('app', 'one', '127.0.0.1'), { ok: true });
  const before = readFileSync(join(dir, 'definitions.json'), 'utf8');
  await open({ dataDir: dir, users });
  t.equal(readFileSync(join(dir, 'definitions.json'), 'utf8'), before, 'an unchanged YAML rewrites nothing');
  const changed = await open({ dataDir: dir, users: [{ ...users[0]!, password: 'two' }] });
  t.match(changed.authenticate('app', 'two', '127.0.0.1'), { ok: true }, 'password updated');
  const reopened = await open({ dataDir: dir });
  t.match(reopened.authenticate('app', 'two', '127.0.0.1'), { ok: true }, 'and persisted');
});
