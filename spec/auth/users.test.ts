/**
 * Tests for lib/auth/users.ts: the user registry, authentication and
 * permission regexes with RabbitMQ's semantics. The regex table was checked
 * against Erlang/OTP 25 `re:run(Subject, Pattern, [{capture, none}])`, which
 * is what rabbit_auth_backend_internal:check_resource_access uses.
 */
import t from 'tap';
import { UserError, UserRegistry, compilePermissionRegex } from '../../lib/auth/users.js';
import type { Permission } from '../../lib/auth/users.js';

function perm(user: string, vhost: string, configure: string, write: string, read: string): Permission {
  return { user, vhost, configure, write, read };
}

t.test('add, get, list, duplicate', async (t) => {
  const reg = new UserRegistry();
  const u = reg.add('alice', 'secret', ['administrator']);
  t.equal(u.name, 'alice');
  t.equal(u.hashingAlgorithm, 'rabbit_password_hashing_sha256');
  t.same(u.tags, ['administrator']);
  t.equal(Buffer.from(u.passwordHash, 'base64').length, 36);
  t.throws(() => reg.add('alice', 'other'), UserError, 'duplicate');
  t.throws(() => reg.add('', 'x'), UserError, 'empty name');
  reg.add('bob', null);
  t.same(reg.list().map((x) => x.name), ['alice', 'bob']);
  t.equal(reg.get('bob')?.passwordHash, '', 'passwordless');
  t.equal(reg.get('carol'), undefined);
  // returned users are copies
  reg.get('alice')!.tags.push('hacked');
  u.tags.push('hacked');
  t.same(reg.get('alice')!.tags, ['administrator']);
});

t.test('authenticate', async (t) => {
  const reg = new UserRegistry();
  reg.add('alice', 'secret');
  reg.add('nopass', null);
  const ok = reg.authenticate('alice', 'secret');
  t.equal(ok.ok, true);
  if (ok.ok) t.equal(ok.user.name, 'alice');
  t.same(reg.authenticate('alice', 'Secret'), { ok: false, reason: "user 'alice' - invalid credentials" });
  // RabbitMQ gives an unknown user the same reason as a wrong password
  t.same(reg.authenticate('mallory', 'secret'), { ok: false, reason: "user 'mallory' - invalid credentials" });
  t.same(reg.authenticate('nopass', 'anything'), { ok: false, reason: "user 'nopass' - invalid credentials" });
  const blank = reg.authenticate('alice', '');
  t.equal(blank.ok, false);
  if (!blank.ok) t.match(blank.reason, /^user 'alice' attempted to log in with a blank password/);
  const blankNoPass = reg.authenticate('nopass', '');
  t.equal(blankNoPass.ok, false, 'passwordless user cannot log in with a blank password either');
});

t.test('changePassword, setTags, put', async (t) => {
  const reg = new UserRegistry();
  reg.add('alice', 'one');
  reg.changePassword('alice', 'two');
  t.equal(reg.authenticate('alice', 'one').ok, false);
  t.equal(reg.authenticate('alice', 'two').ok, true);
  reg.changePassword('alice', null);
  t.equal(reg.get('alice')!.passwordHash, '');
  t.equal(reg.authenticate('alice', 'two').ok, false);
  t.throws(() => reg.changePassword('ghost', 'x'), UserError);
  reg.setTags('alice', ['monitoring', 'management']);
  t.same(reg.get('alice')!.tags, ['monitoring', 'management']);
  t.throws(() => reg.setTags('ghost', []), UserError);

  // imported users keep their RabbitMQ hash and algorithm (vectors from RabbitMQ 3.10.8)
  reg.put({
    name: 'legacy',
    passwordHash: 'kI3GChNpte2FApYFXScl+0dIluk=',
    hashingAlgorithm: 'rabbit_password_hashing_md5',
    tags: [],
  });
  t.equal(reg.authenticate('legacy', 'test12').ok, true, 'md5 user');
  reg.put({
    name: 'legacy',
    passwordHash: 'kI3GChuNuIYf8lRbCCxZjgjKwsY19ns6+uFO0zcXRBGA/XGJPYD8OWMy7EB8TaOmAzjP2azv84GbINYwX2cDWb4DHnc=',
    hashingAlgorithm: 'rabbit_password_hashing_sha512',
    tags: ['administrator'],
  });
  t.equal(reg.authenticate('legacy', 'test12').ok, true, 'replaced with a sha512 user');
  t.same(reg.get('legacy')!.tags, ['administrator']);
  t.equal(reg.list().length, 2);
});

t.test('delete cascades to permissions', async (t) => {
  const reg = new UserRegistry();
  reg.add('alice', 'x');
  reg.add('bob', 'x');
  reg.setPermissions(perm('alice', '/', '.*', '.*', '.*'));
  reg.setPermissions(perm('alice', 'dev', '.*', '.*', '.*'));
  reg.setPermissions(perm('bob', '/', '', '', '.*'));
  t.equal(reg.allPermissions().length, 3);
  t.equal(reg.delete('alice'), true);
  t.equal(reg.delete('alice'), false, 'already gone');
  t.equal(reg.get('alice'), undefined);
  t.same(reg.permissionsForUser('alice'), []);
  t.same(reg.permissionsForVhost('dev'), []);
  t.same(reg.allPermissions(), [perm('bob', '/', '', '', '.*')]);
  t.equal(reg.check('alice', '/', 'read', 'q'), false);
  // a re-created user does not inherit the old permissions
  reg.add('alice', 'x');
  t.equal(reg.permission('alice', '/'), undefined);
});

t.test('permission bookkeeping', async (t) => {
  const reg = new UserRegistry();
  reg.add('alice', 'x');
  reg.add('bob', 'x');
  t.throws(() => reg.setPermissions(perm('ghost', '/', '.*', '.*', '.*')), UserError, 'unknown user');
  reg.setPermissions(perm('alice', '/', '.*', '.*', '.*'));
  reg.setPermissions(perm('alice', '/', '^a', '^b', '^c'));
  t.same(reg.permission('alice', '/'), perm('alice', '/', '^a', '^b', '^c'), 'replaced');
  reg.setPermissions(perm('bob', '/', '.*', '', ''));
  reg.setPermissions(perm('bob', 'other', '.*', '', ''));
  t.same(reg.permissionsForVhost('/').map((p) => p.user).sort(), ['alice', 'bob']);
  t.same(reg.permissionsForUser('bob').map((p) => p.vhost).sort(), ['/', 'other']);
  t.equal(reg.canAccessVhost('bob', 'other'), true);
  t.equal(reg.canAccessVhost('alice', 'other'), false);
  t.equal(reg.clearPermissions('bob', 'other'), true);
  t.equal(reg.clearPermissions('bob', 'other'), false);
  t.equal(reg.check('bob', 'other', 'configure', 'q'), false);
  reg.deleteVhost('/');
  t.same(reg.allPermissions(), []);
  t.equal(reg.check('alice', '/', 'configure', 'abc'), false);
  // stored permissions are copies
  const p = perm('alice', '/', '.*', '.*', '.*');
  reg.setPermissions(p);
  p.read = '';
  t.equal(reg.check('alice', '/', 'read', 'q'), true);
});

t.test('invalid regex rejected, previous permission kept', async (t) => {
  const reg = new UserRegistry();
  reg.add('alice', 'x');
  reg.setPermissions(perm('alice', '/', '.*', '.*', '.*'));
  for (const bad of ['(', '[a-', '*', 'abc\\', '(?x)a b']) {
    t.throws(() => reg.setPermissions(perm('alice', '/', '.*', bad, '.*')), UserError, JSON.stringify(bad));
  }
  t.same(reg.permission('alice', '/'), perm('alice', '/', '.*', '.*', '.*'));
});

t.test('regex semantics: unanchored, empty denies, per kind', async (t) => {
  const reg = new UserRegistry();
  reg.add('u', 'x');
  reg.setPermissions(perm('u', '/', '', '.*', '^amq\\.gen.*'));
  // configure '' -> '^$': denies every real name (the default exchange is checked as 'amq.default')
  for (const name of ['q', 'amq.default', 'amq.gen-1', ' ']) t.equal(reg.check('u', '/', 'configure', name), false, name);
  // write '.*' allows everything
  for (const name of ['q', 'amq.default', '', 'x.y']) t.equal(reg.check('u', '/', 'write', name), true, name);
  // read prefix
  t.equal(reg.check('u', '/', 'read', 'amq.gen-JzTY20BRgKO-HjmUJj0wLg'), true);
  t.equal(reg.check('u', '/', 'read', 'x.amq.gen'), false);
  t.equal(reg.check('u', '/', 'read', 'amqXgen'), false);
  // unanchored: a match anywhere counts
  reg.setPermissions(perm('u', '/', 'foo', 'foo|bar', '^(a|b)$'));
  t.equal(reg.check('u', '/', 'configure', 'my-foo-queue'), true);
  t.equal(reg.check('u', '/', 'write', 'xbarx'), true);
  t.equal(reg.check('u', '/', 'read', 'a'), true);
  t.equal(reg.check('u', '/', 'read', 'ab'), false);
  // other vhosts and users have nothing
  t.equal(reg.check('u', 'dev', 'write', 'q'), false);
  t.equal(reg.check('nobody', '/', 'write', 'q'), false);
});

t.test('PCRE details, as Erlang re:run decides', async (t) => {
  // [pattern, subject, matches] -- each verified with Erlang/OTP 25 re:run
  const table: Array<[string, string, boolean]> = [
    ['^q$', 'q\n', true],
    ['^q$', 'q\nx', false],
    ['\\Aq\\z', 'q\n', false],
    ['\\Aq\\Z', 'q\n', true],
    ['(?i)^ABC', 'abc', true],
    ['[]x]', ']', true],
    ['[^]x]', ']', false],
    ['[^]x]', 'y', true],
    ['\\Qa.b\\E', 'a.b', true],
    ['\\Qa.b\\E', 'axb', false],
    ['', '', true],
    ['', '\n', true],
    ['foo', 'my-foo-queue', true],
    ['^amq\\.gen.*', 'x.amq.gen', false],
    ['(?m)^b$', 'a\nb\nc', true],
    ['(?s)a.b', 'a\nb', true],
    ['a.b', 'a\nb', false],
    ['q$\\n', 'q\n', true],
    ['[$]', '$', true],
    ['a{', 'a{', true],
  ];
  for (const [pattern, subject, expected] of table) {
    t.equal(compilePermissionRegex(pattern).test(subject), expected, `${JSON.stringify(pattern)} ~ ${JSON.stringify(subject)}`);
  }
});
