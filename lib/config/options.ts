// The broker's option table: every setting warren accepts, with its YAML key,
// command-line flag, type, default, allowed range and one-line doc. This is the
// single source read by the config loader, the YAML file check, `--help` and
// the generated etc/warren.yaml. Add an option by adding a row (and a field to
// BrokerConfig).

export interface ConfigUserPermission {
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface ConfigUser {
  name: string;
  password?: string;
  passwordHash?: string;
  tags?: string[];
  permissions?: ConfigUserPermission[];
}

/** When persistent messages on durable queues are confirmed: see the `fsync` row. */
export type FsyncPolicy = 'always' | 'interval';

export interface BrokerConfig {
  port: number;
  bind: string;
  httpPort: number;
  httpBind: string;
  dataDir: string;
  logLevel: string;
  heartbeat: number;
  frameMax: number;
  channelMax: number;
  handshakeTimeout: number;
  maxMessageSize: number;
  diskFreeLimit: number;
  fsync: FsyncPolicy;
  fsyncInterval: number;
  queueMemoryBudget: number;
  consumerTimeout: number;
  messageLogSegmentSize: number;
  defaultVhost: string;
  defaultUser: string;
  defaultPass: string;
  defaultUserTags: string[];
  loopbackUsers: string[];
  vhosts: string[];
  users: ConfigUser[];
  loadDefinitions: string;
}

/**
 * How a value is parsed and checked:
 * - int: an integer within [min, max]
 * - string: a non-empty string
 * - level: one of LOG_LEVELS
 * - enum: one of the row's `values`
 * - bytes: a byte count, an integer or a string with a RabbitMQ information
 *   unit (50MB, 512MiB; see information-units.ts) within [min, max]
 * - string-list: a list of non-empty strings (a comma list on the command line)
 * - users: a list of user entries (YAML only)
 */
export type OptionType = 'int' | 'string' | 'level' | 'enum' | 'bytes' | 'string-list' | 'users';

export interface OptionSpec {
  key: keyof BrokerConfig;
  yaml: string;
  flag?: string;
  type: OptionType;
  default: unknown;
  doc: string;
  min?: number;
  max?: number;
  /** The allowed values of an enum option. */
  values?: readonly string[];
  /** Placeholder for the flag's value in --help (e.g. N, ADDR). */
  metavar?: string;
  /** A string option that may be empty (meaning: not set). */
  emptyAllowed?: boolean;
}

export const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['always', 'interval'];

export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'port', yaml: 'port', flag: '--port', type: 'int', default: 5672, min: 0, max: 65535, metavar: 'N',
    doc: 'TCP port to accept AMQP connections on (0 picks a free port)',
  },
  {
    key: 'bind', yaml: 'bind', flag: '--bind', type: 'string', default: '127.0.0.1', metavar: 'ADDR',
    doc: 'Address to listen on; 0.0.0.0 or :: accepts connections from other hosts',
  },
  {
    key: 'httpPort', yaml: 'http_port', flag: '--http-port', type: 'int', default: 15672, min: -1, max: 65535, metavar: 'N',
    doc: 'TCP port of the management HTTP API (RabbitMQ\'s paths, for warrenctl, rabbitmqadmin and monitoring); 0 turns it off; -1 picks a free port',
  },
  {
    key: 'httpBind', yaml: 'http_bind', flag: '--http-bind', type: 'string', default: '127.0.0.1', metavar: 'ADDR',
    doc: 'Address the management HTTP API listens on',
  },
  {
    key: 'dataDir', yaml: 'data_dir', flag: '--data-dir', type: 'string', default: './data', metavar: 'DIR',
    doc: 'Directory for durable state; a relative path is relative to the process working directory',
  },
  {
    key: 'logLevel', yaml: 'log_level', flag: '--log-level', type: 'level', default: 'info', metavar: 'LEVEL',
    doc: `Log level: ${LOG_LEVELS.join(', ')}`,
  },
  {
    key: 'heartbeat', yaml: 'heartbeat', flag: '--heartbeat', type: 'int', default: 60, min: 0, max: 65535, metavar: 'SECONDS',
    doc: 'Heartbeat interval in seconds the server proposes in connection.tune; 0 disables heartbeats',
  },
  {
    key: 'frameMax', yaml: 'frame_max', flag: '--frame-max', type: 'int', default: 131072, min: 4096, max: 4294967295, metavar: 'BYTES',
    doc: 'Largest frame in bytes the server proposes in connection.tune',
  },
  {
    key: 'channelMax', yaml: 'channel_max', flag: '--channel-max', type: 'int', default: 2047, min: 1, max: 65535, metavar: 'N',
    doc: 'Most channels a connection may have open at once (RabbitMQ counts open channels, not channel numbers)',
  },
  {
    key: 'handshakeTimeout', yaml: 'handshake_timeout', flag: '--handshake-timeout', type: 'int', default: 10, min: 1, max: 3600, metavar: 'SECONDS',
    doc: 'Seconds a client has to complete the AMQP handshake before it is disconnected',
  },
  {
    key: 'maxMessageSize', yaml: 'max_message_size', flag: '--max-message-size', type: 'int', default: 134217728, min: 1, max: 536870912, metavar: 'BYTES',
    doc: 'Largest message body in bytes a client may publish (128 MiB like RabbitMQ; at most 512 MiB)',
  },
  {
    key: 'diskFreeLimit', yaml: 'disk_free_limit', flag: '--disk-free-limit', type: 'bytes', default: 50000000, min: 0, metavar: 'BYTES',
    doc: 'Free disk space (on the data dir\'s file system) below which connections that publish are blocked, as by RabbitMQ\'s disk alarm: bytes, or with a unit: 50MB, 1GB (powers of 10), 512MiB, 1GiB (powers of 2); 0 never blocks',
  },
  {
    key: 'fsync', yaml: 'fsync', flag: '--fsync', type: 'enum', values: FSYNC_POLICIES, default: 'always', metavar: 'POLICY',
    doc: 'When persistent messages on durable queues are confirmed: always = after fdatasync of their batch (never loses a confirmed message); interval = after the write, with fdatasync at most every fsync_interval ms (faster; a machine crash, not a process crash, can lose the last interval)',
  },
  {
    key: 'fsyncInterval', yaml: 'fsync_interval', flag: '--fsync-interval', type: 'int', default: 200, min: 1, max: 60000, metavar: 'MS',
    doc: 'With fsync: interval, the longest time in milliseconds between two fdatasync calls of the message log',
  },
  {
    key: 'consumerTimeout', yaml: 'consumer_timeout', flag: '--consumer-timeout', type: 'int', default: 0, min: 0, max: 2147483647, metavar: 'MS',
    doc: 'Milliseconds a delivery may wait for its acknowledgement before its channel is closed with 406, as RabbitMQ\'s consumer_timeout; 0 turns it off; a queue\'s x-consumer-timeout argument overrides it',
  },
  {
    key: 'queueMemoryBudget', yaml: 'queue_memory_budget', flag: '--queue-memory-budget', type: 'bytes', default: 64 * 1024 * 1024, min: 4096, metavar: 'BYTES',
    doc: 'Memory each queue may use for its ready messages (bytes plus about 160 bytes of bookkeeping a message); beyond it, newer messages wait on disk under data_dir/queues and are read back in order as consumers catch up',
  },
  {
    key: 'messageLogSegmentSize', yaml: 'message_log_segment_size', flag: '--message-log-segment-size', type: 'bytes', default: 64 * 1024 * 1024, min: 4096, metavar: 'BYTES',
    doc: 'Size at which the message log (persistent messages of durable queues, under data_dir/messages) starts a new segment file; old segments are deleted or compacted once their messages are consumed',
  },
  {
    key: 'defaultVhost', yaml: 'default_vhost', flag: '--default-vhost', type: 'string', default: '/', metavar: 'NAME',
    doc: 'Virtual host created on first boot (empty data directory) only',
  },
  {
    key: 'defaultUser', yaml: 'default_user', flag: '--default-user', type: 'string', default: 'guest', metavar: 'NAME',
    doc: 'User created on first boot (empty data directory) only, with full permissions on the default vhost',
  },
  {
    key: 'defaultPass', yaml: 'default_pass', flag: '--default-pass', type: 'string', default: 'guest', metavar: 'PASSWORD',
    doc: 'Password of the default user, set on first boot only',
  },
  {
    key: 'defaultUserTags', yaml: 'default_user_tags', type: 'string-list', default: ['administrator'],
    doc: 'Tags given to the default user on first boot',
  },
  {
    key: 'loopbackUsers', yaml: 'loopback_users', flag: '--loopback-users', type: 'string-list', default: ['guest'], metavar: 'NAMES',
    doc: 'Users that may only connect from a loopback address (flag: comma list, empty for none)',
  },
  {
    key: 'vhosts', yaml: 'vhosts', type: 'string-list', default: [],
    doc: 'Virtual hosts ensured at every start',
  },
  {
    key: 'users', yaml: 'users', type: 'users', default: [],
    doc: 'Users ensured (created or updated) at every start; each entry has name, password or password_hash, tags, permissions (list of {vhost, configure, write, read})',
  },
  {
    key: 'loadDefinitions', yaml: 'load_definitions', flag: '--load-definitions', type: 'string', default: '', emptyAllowed: true, metavar: 'FILE',
    doc: 'A definitions file (RabbitMQ\'s JSON, as GET /api/definitions or rabbitmqctl export_definitions write it) imported at every start, after the data dir\'s own definitions, as RabbitMQ\'s load_definitions; on the first start it replaces the default vhost and user. Policies, parameters and other entries warren does not support are logged and skipped; empty for none',
  },
];

function copyDefault(value: unknown): unknown {
  return Array.isArray(value) ? [...value] : value;
}

function buildDefaults(): BrokerConfig {
  const config: Record<string, unknown> = {};
  for (const option of OPTIONS) config[option.key] = copyDefault(option.default);
  return config as unknown as BrokerConfig;
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export const DEFAULT_CONFIG: Readonly<BrokerConfig> = deepFreeze(buildDefaults());

/** The row for a BrokerConfig key, or undefined. */
export function optionByKey(key: string): OptionSpec | undefined {
  return OPTIONS.find((option) => option.key === key);
}
