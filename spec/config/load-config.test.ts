// Tests for lib/config/load-config.ts: flags, the YAML file, merging, --help and etc/warren.yaml.

import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  helpText,
  loadConfig,
  parseArgs,
  readConfigFile,
  renderDefaultYaml,
  resolveConfig,
} from '../../lib/config/load-config.js';
import { DEFAULT_CONFIG, OPTIONS } from '../../lib/config/options.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'warren-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function yamlFile(text: string): string {
  const path = join(dir, `config-${++fileCount}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** Asserts that fn throws a one-line ConfigError whose message matches every pattern. */
function throwsConfigError(t: Test, fn: () => unknown, patterns: RegExp[], name: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ConfigError, `${name}: throws ConfigError`);
  const message = (caught as Error | undefined)?.message ?? '';
  t.notMatch(message, /\n/, `${name}: message is one line`);
  for (const pattern of patterns) t.match(message, pattern, `${name}: message matches ${pattern}`);
}

t.test('no arguments gives the defaults', async (t) => {
  const loaded = loadConfig([]);
  t.same(loaded.config, DEFAULT_CONFIG);
  t.equal(loaded.help, false);
  t.equal(loaded.version, false);
  t.equal(loaded.configFile, undefined);
  t.not(loaded.config.loopbackUsers, DEFAULT_CONFIG.loopbackUsers, 'lists are copies');
});

t.test('parseArgs reads --flag value and --flag=value', async (t) => {
  const parsed = parseArgs(['--port', '5673', '--bind=0.0.0.0', '--data-dir', '/var/lib/warren', '--log-level=debug',
    '--heartbeat', '0', '--frame-max=4096', '--channel-max', '10', '--handshake-timeout=3', '--max-message-size', '1024',
    '--default-vhost', 'v', '--default-user', 'admin', '--default-pass=s=cret', '--config', 'x.yaml']);
  t.same(parsed.overrides, {
    port: 5673, bind: '0.0.0.0', dataDir: '/var/lib/warren', logLevel: 'debug', heartbeat: 0, frameMax: 4096,
    channelMax: 10, handshakeTimeout: 3, maxMessageSize: 1024, defaultVhost: 'v', defaultUser: 'admin', defaultPass: 's=cret',
  });
  t.equal(parsed.configFile, 'x.yaml');
  t.equal(parsed.help, false);
  t.same(parseArgs(['--config=y.yaml']).configFile, 'y.yaml');
});

t.test('parseArgs: help, version and --loopback-users', async (t) => {
  t.equal(parseArgs(['-h']).help, true);
  t.equal(parseArgs(['--help']).help, true);
  t.equal(parseArgs(['--version']).version, true);
  t.same(parseArgs(['--loopback-users', 'a, b,']).overrides, { loopbackUsers: ['a', 'b'] });
  t.same(parseArgs(['--loopback-users=']).overrides, { loopbackUsers: [] });
  t.same(parseArgs(['--port', '1', '--port', '2']).overrides, { port: 2 }, 'last flag wins');
});

t.test('parseArgs rejects bad input with a message naming the flag', async (t) => {
  throwsConfigError(t, () => parseArgs(['--prot', '5']), [/unknown option --prot/, /did you mean "--port"/], 'unknown flag');
  throwsConfigError(t, () => parseArgs(['--nonsense-option']), [/unknown option --nonsense-option/], 'unknown flag without suggestion');
  throwsConfigError(t, () => parseArgs(['--default-user-tags', 'a']), [/unknown option --default-user-tags/], 'YAML-only option as flag');
  throwsConfigError(t, () => parseArgs(['--port', '70000']), [/--port/, /integer from 0 to 65535/, /70000/], 'port out of range');
  throwsConfigError(t, () => parseArgs(['--port=abc']), [/--port/, /integer/], 'port not a number');
  throwsConfigError(t, () => parseArgs(['--port', '5.5']), [/--port/, /integer/], 'port not an integer');
  throwsConfigError(t, () => parseArgs(['--heartbeat', '-1']), [/--heartbeat/, /from 0/], 'negative heartbeat');
  throwsConfigError(t, () => parseArgs(['--frame-max', '100']), [/--frame-max/, /4096/], 'frame_max too small');
  throwsConfigError(t, () => parseArgs(['--max-message-size', '536870913']), [/--max-message-size/, /536870912/], 'message size too big');
  throwsConfigError(t, () => parseArgs(['--log-level', 'loud']), [/--log-level/, /fatal, error, warn, info, debug, trace, silent/, /loud/], 'bad level');
  throwsConfigError(t, () => parseArgs(['--port']), [/--port needs a value/], 'missing value at end');
  throwsConfigError(t, () => parseArgs(['--bind', '--port', '1']), [/--bind needs a value/], 'missing value before flag');
  throwsConfigError(t, () => parseArgs(['--bind=']), [/--bind/, /non-empty string/], 'empty string');
  throwsConfigError(t, () => parseArgs(['--help=yes']), [/--help takes no value/], 'help with value');
  throwsConfigError(t, () => parseArgs(['stray']), [/unexpected argument "stray"/], 'positional argument');
});

t.test('disk_free_limit takes bytes or a RabbitMQ information unit, from flags and YAML', async (t) => {
  t.same(parseArgs(['--disk-free-limit', '1000']).overrides, { diskFreeLimit: 1000 });
  t.same(parseArgs(['--disk-free-limit=50MB']).overrides, { diskFreeLimit: 50_000_000 });
  t.same(parseArgs(['--disk-free-limit', '2GiB']).overrides, { diskFreeLimit: 2 * 1024 ** 3 });
  t.same(parseArgs(['--disk-free-limit', '0']).overrides, { diskFreeLimit: 0 });
  t.same(readConfigFile(yamlFile('disk_free_limit: 1GB\n')), { diskFreeLimit: 1e9 });
  t.same(readConfigFile(yamlFile('disk_free_limit: "512MiB"\n')), { diskFreeLimit: 512 * 1024 ** 2 });
  t.same(readConfigFile(yamlFile('disk_free_limit: 123456\n')), { diskFreeLimit: 123456 });
  t.equal(resolveConfig({ diskFreeLimit: '10k' as never }).diskFreeLimit, 10_000, 'a unit string from code is converted too');
  throwsConfigError(t, () => parseArgs(['--disk-free-limit', '50 MB']), [/--disk-free-limit/, /byte count of at least 0/, /50MB/, /"50 MB"/], 'space before the unit');
  throwsConfigError(t, () => parseArgs(['--disk-free-limit', '1.5GB']), [/--disk-free-limit/, /byte count/], 'fraction');
  throwsConfigError(t, () => parseArgs(['--disk-free-limit', '-1']), [/--disk-free-limit/, /byte count/], 'negative');
  throwsConfigError(t, () => parseArgs(['--disk-free-limit', '5XB']), [/--disk-free-limit/, /byte count/], 'unknown unit');
  throwsConfigError(t, () => readConfigFile(yamlFile('disk_free_limit: -5\n')), [/disk_free_limit: expected a byte count of at least 0/, /got -5/], 'negative in YAML');
  throwsConfigError(t, () => readConfigFile(yamlFile('disk_free_limit: 1e18\n')), [/disk_free_limit: expected a byte count/], 'beyond a safe integer');
  throwsConfigError(t, () => readConfigFile(yamlFile('disk_free_limit: [1]\n')), [/disk_free_limit: expected a byte count/, /a list/], 'list');
});

t.test('fsync is always or interval; fsync_interval is 1 to 60000 ms', async (t) => {
  t.same(parseArgs(['--fsync', 'interval', '--fsync-interval=50']).overrides, { fsync: 'interval', fsyncInterval: 50 });
  t.same(readConfigFile(yamlFile('fsync: always\nfsync_interval: 60000\n')), { fsync: 'always', fsyncInterval: 60000 });
  throwsConfigError(t, () => parseArgs(['--fsync', 'never']), [/--fsync: expected one of always, interval, got "never"/], 'unknown policy');
  throwsConfigError(t, () => readConfigFile(yamlFile('fsync: true\n')), [/fsync: expected one of always, interval, got true/], 'boolean policy');
  throwsConfigError(t, () => parseArgs(['--fsync-interval', '0']), [/--fsync-interval: expected an integer from 1 to 60000/], 'interval 0');
  throwsConfigError(t, () => readConfigFile(yamlFile('fsync_interval: 60001\n')), [/fsync_interval: expected an integer from 1 to 60000/], 'interval too long');
});

t.test('YAML overrides defaults and flags override YAML', async (t) => {
  const file = yamlFile('port: 6000\nbind: 0.0.0.0\nlog_level: warn\nvhosts: [a, b]\nloopback_users: []\n');
  const fromFile = loadConfig(['--config', file]);
  t.equal(fromFile.configFile, file);
  t.same(fromFile.config, { ...DEFAULT_CONFIG, port: 6000, bind: '0.0.0.0', logLevel: 'warn', vhosts: ['a', 'b'], loopbackUsers: [] });
  const withFlags = loadConfig(['--config', file, '--port=7000', '--loopback-users', 'guest,ops']);
  t.equal(withFlags.config.port, 7000, 'flag beats YAML');
  t.same(withFlags.config.loopbackUsers, ['guest', 'ops']);
  t.equal(withFlags.config.bind, '0.0.0.0', 'YAML kept where no flag');
  t.equal(withFlags.config.heartbeat, 60, 'default kept where neither');
});

t.test('readConfigFile: empty, comment-only and missing files', async (t) => {
  t.same(readConfigFile(yamlFile('')), {});
  t.same(readConfigFile(yamlFile('# nothing here\n')), {});
  throwsConfigError(t, () => readConfigFile(join(dir, 'absent.yaml')), [/absent\.yaml/, /not found/], 'missing file');
  throwsConfigError(t, () => loadConfig(['--config', join(dir, 'absent.yaml')]), [/not found/], 'missing file via loadConfig');
});

t.test('readConfigFile rejects unknown keys with a suggestion', async (t) => {
  const file = yamlFile('port: 1\nfram_max: 8192\n');
  throwsConfigError(t, () => readConfigFile(file), [/unknown option "fram_max"/, /did you mean "frame_max"/, new RegExp(file.replace(/[.\\]/g, '\\$&'))], 'typo');
  throwsConfigError(t, () => readConfigFile(yamlFile('dataDir: /x\n')), [/did you mean "data_dir"/], 'camelCase key');
  throwsConfigError(t, () => readConfigFile(yamlFile('zzzzzzzz: 1\n')), [/unknown option "zzzzzzzz"$/], 'no close key');
});

t.test('readConfigFile rejects wrong types and ranges, naming key and file', async (t) => {
  const cases: [string, RegExp[]][] = [
    ['port: 70000\n', [/port: expected an integer from 0 to 65535, got 70000/]],
    ['port: "5672"\n', [/port: expected an integer/]],
    ['frame_max: 100\n', [/frame_max: expected an integer from 4096/, /got 100/]],
    ['log_level: loud\n', [/log_level: expected one of fatal/, /"loud"/]],
    ['heartbeat: -1\n', [/heartbeat: expected an integer from 0/]],
    ['channel_max: 0\n', [/channel_max: expected an integer from 1 to 65535/]],
    ['bind: 12\n', [/bind: expected a non-empty string/, /quote it/]],
    ['data_dir:\n', [/data_dir: expected a non-empty string, got nothing/]],
    ['vhosts: a\n', [/vhosts: expected a list of strings/]],
    ['default_user_tags: [ok, 3]\n', [/default_user_tags\[1\]: expected a non-empty string/]],
    ['users: {}\n', [/users: expected a list of users/]],
  ];
  for (const [text, patterns] of cases) {
    const file = yamlFile(text);
    throwsConfigError(t, () => readConfigFile(file), [...patterns, new RegExp(`config-${fileCount}\\.yaml`)], text.trim());
  }
  throwsConfigError(t, () => readConfigFile(yamlFile('port: [\n')), [/invalid YAML/], 'syntax error');
  throwsConfigError(t, () => readConfigFile(yamlFile('port: 1\nport: 2\n')), [/invalid YAML/], 'duplicate key');
  throwsConfigError(t, () => readConfigFile(yamlFile('- port\n')), [/expected a mapping/], 'top-level list');
});

t.test('readConfigFile parses the users list', async (t) => {
  const file = yamlFile([
    'users:',
    '  - name: alice',
    '    password: secret',
    '    tags: [administrator, management]',
    '    permissions:',
    '      - { vhost: "/", configure: ".*", write: ".*", read: ".*" }',
    '      - { vhost: logs, configure: "", write: "^in$", read: "" }',
    '  - name: bob',
    '    password_hash: "abc123=="',
    '  - name: carol',
  ].join('\n'));
  t.same(readConfigFile(file).users, [
    {
      name: 'alice', password: 'secret', tags: ['administrator', 'management'],
      permissions: [{ vhost: '/', configure: '.*', write: '.*', read: '.*' }, { vhost: 'logs', configure: '', write: '^in$', read: '' }],
    },
    { name: 'bob', passwordHash: 'abc123==' },
    { name: 'carol' },
  ]);
  t.strictSame(readConfigFile(file).users?.[1], { name: 'bob', passwordHash: 'abc123==' }, 'no password key on a hash user');
});

t.test('readConfigFile rejects bad user entries', async (t) => {
  const cases: [string, RegExp[]][] = [
    ['users:\n  - password: x\n', [/users\[0\]: user entry has no name/]],
    ['users:\n  - name: ""\n', [/users\[0\]\.name: expected a non-empty string/]],
    ['users:\n  - name: a\n    password: x\n    password_hash: y\n', [/users\[0\]: user "a" has both password and password_hash/]],
    ['users:\n  - name: a\n    pasword: x\n', [/users\[0\]: unknown key "pasword"/, /did you mean "password"/]],
    ['users:\n  - name: a\n    passwordHash: x\n', [/did you mean "password_hash"/]],
    ['users:\n  - name: a\n  - name: a\n', [/users\[1\]: user "a" is listed twice/]],
    ['users:\n  - alice\n', [/users\[0\]: expected a user mapping/]],
    ['users:\n  - name: a\n    tags: admin\n', [/users\[0\]\.tags: expected a list of strings/]],
    ['users:\n  - name: a\n    permissions: [{ vhost: "/", configure: ".*", write: ".*" }]\n', [/users\[0\]\.permissions\[0\]\.read: expected a regular expression string/]],
    ['users:\n  - name: a\n    permissions: [{ vhost: "/", configure: "(", write: "", read: "" }]\n', [/users\[0\]\.permissions\[0\]\.configure: expected a regular expression/]],
    ['users:\n  - name: a\n    permissions: [{ vhost: "/", configure: "", write: "", read: "", extra: 1 }]\n', [/permissions\[0\]: unknown key "extra"/]],
  ];
  for (const [text, patterns] of cases) throwsConfigError(t, () => readConfigFile(yamlFile(text)), patterns, text.replace(/\n/g, ' | '));
});

t.test('resolveConfig layers, revalidates and copies', async (t) => {
  const user = { name: 'u', tags: ['x'], permissions: [{ vhost: '/', configure: '', write: '', read: '' }] };
  const layer1 = { port: 1000, users: [user] };
  const config = resolveConfig(layer1, { port: 2000, bind: undefined });
  t.equal(config.port, 2000, 'later layer wins');
  t.equal(config.bind, '127.0.0.1', 'undefined does not override');
  t.same(config.users, [user]);
  t.not(config.users[0], user, 'user copied');
  t.not(config.users[0]!.tags, user.tags, 'tags copied');
  config.vhosts.push('mutated');
  t.same(DEFAULT_CONFIG.vhosts, [], 'defaults untouched');
  throwsConfigError(t, () => resolveConfig({ port: 70000 }), [/invalid config: port: expected an integer from 0 to 65535/], 'range');
  throwsConfigError(t, () => resolveConfig({ logLevel: 'loud' }), [/logLevel: expected one of/], 'level');
  throwsConfigError(t, () => resolveConfig({ users: [{ name: 'a', password: 'p', passwordHash: 'h' }] }), [/both password and passwordHash/], 'user');
  throwsConfigError(t, () => resolveConfig({ nope: 1 } as never), [/unknown option "nope"/], 'unknown key');
});

t.test('helpText lists every option with its default', async (t) => {
  const help = helpText();
  t.match(help, /^usage: warren \[--config FILE\] \[--port N\] \[--bind ADDR\] \[--data-dir DIR\] \[--log-level LEVEL\] \[options\]\n/);
  for (const option of OPTIONS) {
    const line = help.split('\n').find((l) => l.trimStart().startsWith(`${option.flag ?? option.yaml} `));
    t.ok(line, `${option.yaml} has a help line`);
    t.ok(line?.includes(option.doc), `${option.yaml} help shows its doc`);
    t.match(line ?? '', /\(default: .+\)$/, `${option.yaml} help shows its default`);
  }
  t.match(help, /--port N .*\(default: 5672\)/);
  t.match(help, /--loopback-users NAMES .*\(default: guest\)/);
  t.match(help, /vhosts .*\(default: none\)/);
  t.match(help, /--config FILE/);
  t.match(help, /--version/);
});

t.test('etc/warren.yaml is renderDefaultYaml() and loads to DEFAULT_CONFIG', async (t) => {
  const rendered = renderDefaultYaml();
  const onDisk = readFileSync(join(repoRoot, 'etc/warren.yaml'), 'utf8');
  t.equal(onDisk, rendered, 'etc/warren.yaml is stale; regenerate it with: node --import @tapjs/typescript/import --input-type=module -e "process.stdout.write((await import(\'./lib/config/load-config.ts\')).renderDefaultYaml())" > etc/warren.yaml');
  const fromFile = readConfigFile(join(repoRoot, 'etc/warren.yaml'));
  t.same(Object.keys(fromFile), OPTIONS.map((o) => o.key), 'every option present, in table order');
  t.same(resolveConfig(fromFile), DEFAULT_CONFIG);
  t.same(loadConfig(['--config', join(repoRoot, 'etc/warren.yaml')]).config, DEFAULT_CONFIG);
  for (const option of OPTIONS) t.match(rendered, new RegExp(`^${option.yaml}: `, 'm'), `${option.yaml} rendered`);
});

t.test('the users example in the default YAML is valid once uncommented', async (t) => {
  const lines = renderDefaultYaml().split('\n');
  const start = lines.indexOf('# users:');
  const end = lines.indexOf('users: []');
  t.ok(start > 0 && end > start, 'example found');
  const example = lines.slice(start, end).map((l) => l.replace(/^# ?/, '')).join('\n');
  const users = readConfigFile(yamlFile(example)).users ?? [];
  t.equal(users.length, 2);
  t.equal(users[0]?.password, 'change-me');
  t.same(users[1]?.permissions, [{ vhost: '/', configure: '', write: '', read: '^reports\\.' }]);
});
