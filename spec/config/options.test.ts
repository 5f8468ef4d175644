// Tests for the option table (lib/config/options.ts): defaults, flag naming and row consistency.

import t from 'tap';
import { DEFAULT_CONFIG, LOG_LEVELS, OPTIONS } from '../../lib/config/options.js';

t.test('DEFAULT_CONFIG holds the documented defaults', async (t) => {
  t.same(DEFAULT_CONFIG, {
    port: 5672,
    bind: '127.0.0.1',
    httpPort: 15672,
    httpBind: '127.0.0.1',
    dataDir: './data',
    logLevel: 'info',
    heartbeat: 60,
    frameMax: 131072,
    channelMax: 2047,
    handshakeTimeout: 10,
    maxMessageSize: 134217728,
    diskFreeLimit: 50000000,
    fsync: 'always',
    fsyncInterval: 200,
    consumerTimeout: 0,
    queueMemoryBudget: 64 * 1024 * 1024,
    messageLogSegmentSize: 64 * 1024 * 1024,
    defaultVhost: '/',
    defaultUser: 'guest',
    defaultPass: 'guest',
    defaultUserTags: ['administrator'],
    loopbackUsers: ['guest'],
    vhosts: [],
    users: [],
    loadDefinitions: '',
  });
});

t.test('DEFAULT_CONFIG is frozen, including its lists', async (t) => {
  t.ok(Object.isFrozen(DEFAULT_CONFIG));
  t.ok(Object.isFrozen(DEFAULT_CONFIG.loopbackUsers));
  t.throws(() => { (DEFAULT_CONFIG.loopbackUsers as string[]).push('x'); });
});

t.test('every row is unique and consistent', async (t) => {
  const keys = OPTIONS.map((o) => o.key);
  const yamlKeys = OPTIONS.map((o) => o.yaml);
  const flags = OPTIONS.flatMap((o) => (o.flag ? [o.flag] : []));
  t.equal(new Set(keys).size, keys.length, 'keys unique');
  t.equal(new Set(yamlKeys).size, yamlKeys.length, 'yaml keys unique');
  t.equal(new Set(flags).size, flags.length, 'flags unique');
  for (const option of OPTIONS) {
    t.match(option.yaml, /^[a-z][a-z0-9_]*$/, `${option.yaml} is snake_case`);
    t.ok(option.doc.length > 10, `${option.yaml} has a doc`);
    if (option.flag !== undefined) t.equal(option.flag, `--${option.yaml.replace(/_/g, '-')}`, `${option.yaml} flag is kebab-case of its key`);
    if (option.type === 'int') {
      t.type(option.default, 'number');
      t.ok((option.min ?? -Infinity) <= (option.default as number) && (option.default as number) <= (option.max ?? Infinity), `${option.yaml} default in range`);
    }
    if (option.type === 'level') t.ok(LOG_LEVELS.includes(option.default as string));
    if (option.type === 'enum') t.ok(option.values?.includes(option.default as string), `${option.yaml} default is one of its values`);
    else t.equal(option.values, undefined, `${option.yaml}: values only on enum rows`);
    if (option.type === 'bytes') t.ok(Number.isSafeInteger(option.default) && (option.default as number) >= (option.min ?? 0), `${option.yaml} default is a byte count`);
  }
});

t.test('every scalar option has a flag; list options are YAML-only except loopback_users', async (t) => {
  for (const option of OPTIONS) {
    const scalar = ['int', 'string', 'level', 'enum', 'bytes'].includes(option.type);
    if (scalar) t.ok(option.flag, `${option.yaml} has a flag`);
    else if (option.yaml === 'loopback_users') t.equal(option.flag, '--loopback-users');
    else t.equal(option.flag, undefined, `${option.yaml} is YAML-only`);
  }
});
