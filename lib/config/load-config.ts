// Loading the broker configuration: command-line flags, the YAML config file,
// validation of every value against the option table (options.ts), merging
// defaults < file < flags, the --help text and the default etc/warren.yaml.

import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { INFORMATION_UNIT_EXAMPLES, parseInformationUnit } from './information-units.js';
import {
  DEFAULT_CONFIG,
  LOG_LEVELS,
  OPTIONS,
  optionByKey,
  type BrokerConfig,
  type ConfigUser,
  type ConfigUserPermission,
  type OptionSpec,
} from './options.js';

/** A configuration problem; the message is one line naming the flag or key at fault. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ParsedArgs {
  configFile?: string;
  help: boolean;
  version: boolean;
  overrides: Partial<BrokerConfig>;
}

/** A value that does not fit its option; `path` locates it inside a list (e.g. `[1].password`). */
class InvalidValue extends Error {
  constructor(message: string, readonly path = '') {
    super(message);
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  return String(value);
}

function rangeText(option: Pick<OptionSpec, 'min' | 'max'>): string {
  const { min, max } = option;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return '';
}

function checkInt(option: OptionSpec, value: unknown): number {
  const inRange = typeof value === 'number' && Number.isSafeInteger(value)
    && (option.min === undefined || value >= option.min)
    && (option.max === undefined || value <= option.max);
  if (!inRange) throw new InvalidValue(`expected an integer${rangeText(option)}, got ${describe(value)}`);
  return value as number;
}

/** A byte count: a safe integer, or a string with an information unit (`50MB`), within the option's range. */
function checkBytes(option: OptionSpec, value: unknown): number {
  let bytes: number | undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) bytes = value;
  else if (typeof value === 'string') bytes = parseInformationUnit(value.trim());
  const inRange = bytes !== undefined
    && (option.min === undefined || bytes >= option.min)
    && (option.max === undefined || bytes <= option.max);
  if (!inRange) throw new InvalidValue(`expected a byte count${rangeText(option)} such as ${INFORMATION_UNIT_EXAMPLES}, got ${describe(value)}`);
  return bytes!;
}

function checkString(value: unknown, what = 'a non-empty string'): string {
  if (typeof value !== 'string' || value === '') {
    const hint = typeof value === 'number' || typeof value === 'boolean' ? ' (quote it in YAML)' : '';
    throw new InvalidValue(`expected ${what}, got ${describe(value)}${hint}`);
  }
  return value;
}

function checkStringList(value: unknown): string[] {
  if (!Array.isArray(value)) throw new InvalidValue(`expected a list of strings (use [] for none), got ${describe(value)}`);
  return value.map((item, index) => {
    try {
      return checkString(item);
    } catch (err) {
      throw new InvalidValue((err as Error).message, `[${index}]`);
    }
  });
}

/** Key names of a user entry as written in YAML (snake_case) or in code (camelCase). */
type UserKeyNames = Record<keyof ConfigUser, string>;
const YAML_USER_KEYS: UserKeyNames = { name: 'name', password: 'password', passwordHash: 'password_hash', tags: 'tags', permissions: 'permissions' };
const CODE_USER_KEYS: UserKeyNames = { name: 'name', password: 'password', passwordHash: 'passwordHash', tags: 'tags', permissions: 'permissions' };
const PERMISSION_KEYS: readonly (keyof ConfigUserPermission)[] = ['vhost', 'configure', 'write', 'read'];

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkKnownKeys(entry: Record<string, unknown>, known: readonly string[], path: string): void {
  for (const key of Object.keys(entry)) {
    if (!known.includes(key)) throw new InvalidValue(`unknown key ${JSON.stringify(key)}${suggestion(key, known)}; expected ${known.join(', ')}`, path);
  }
}

function checkPermission(value: unknown, path: string): ConfigUserPermission {
  if (!isMapping(value)) throw new InvalidValue(`expected a mapping {vhost, configure, write, read}, got ${describe(value)}`, path);
  checkKnownKeys(value, PERMISSION_KEYS, path);
  const vhost = withPath(`${path}.vhost`, () => checkString(value.vhost));
  const patterns = PERMISSION_KEYS.slice(1).map((key) => withPath(`${path}.${key}`, () => {
    const pattern = value[key];
    if (typeof pattern !== 'string') throw new InvalidValue(`expected a regular expression string ("" for none), got ${describe(pattern)}`);
    try {
      new RegExp(pattern);
    } catch {
      throw new InvalidValue(`expected a regular expression, got ${describe(pattern)}`);
    }
    return pattern;
  }));
  return { vhost, configure: patterns[0]!, write: patterns[1]!, read: patterns[2]! };
}

function withPath<T>(path: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InvalidValue && err.path === '') throw new InvalidValue(err.message, path);
    throw err;
  }
}

function checkUser(value: unknown, index: number, keys: UserKeyNames): ConfigUser {
  const path = `[${index}]`;
  if (!isMapping(value)) throw new InvalidValue(`expected a user mapping with a name, got ${describe(value)}`, path);
  checkKnownKeys(value, Object.values(keys), path);
  if (value[keys.name] === undefined) throw new InvalidValue('user entry has no name', path);
  const user: ConfigUser = { name: withPath(`${path}.${keys.name}`, () => checkString(value[keys.name])) };
  const password = value[keys.password];
  const passwordHash = value[keys.passwordHash];
  if (password !== undefined && passwordHash !== undefined) {
    throw new InvalidValue(`user ${JSON.stringify(user.name)} has both ${keys.password} and ${keys.passwordHash}; give one`, path);
  }
  if (password !== undefined) user.password = withPath(`${path}.${keys.password}`, () => checkString(password));
  if (passwordHash !== undefined) user.passwordHash = withPath(`${path}.${keys.passwordHash}`, () => checkString(passwordHash));
  const tags = value[keys.tags];
  if (tags !== undefined) user.tags = withPath(`${path}.${keys.tags}`, () => checkStringList(tags));
  const permissions = value[keys.permissions];
  if (permissions !== undefined) {
    const permissionsPath = `${path}.${keys.permissions}`;
    if (!Array.isArray(permissions)) throw new InvalidValue(`expected a list of {vhost, configure, write, read}, got ${describe(permissions)}`, permissionsPath);
    user.permissions = permissions.map((permission, i) => checkPermission(permission, `${permissionsPath}[${i}]`));
  }
  return user;
}

function checkUsers(value: unknown, keys: UserKeyNames): ConfigUser[] {
  if (!Array.isArray(value)) throw new InvalidValue(`expected a list of users (use [] for none), got ${describe(value)}`);
  const users = value.map((entry, index) => checkUser(entry, index, keys));
  const seen = new Set<string>();
  users.forEach((user, index) => {
    if (seen.has(user.name)) throw new InvalidValue(`user ${JSON.stringify(user.name)} is listed twice`, `[${index}]`);
    seen.add(user.name);
  });
  return users;
}

/** Checks a typed value against its option and returns a fresh copy; throws InvalidValue. */
function checkValue(option: OptionSpec, value: unknown, userKeys: UserKeyNames): unknown {
  switch (option.type) {
    case 'int':
      return checkInt(option, value);
    case 'string':
      return option.emptyAllowed === true && value === '' ? '' : checkString(value);
    case 'level':
      if (typeof value !== 'string' || !LOG_LEVELS.includes(value)) {
        throw new InvalidValue(`expected one of ${LOG_LEVELS.join(', ')}, got ${describe(value)}`);
      }
      return value;
    case 'enum':
      if (typeof value !== 'string' || !option.values!.includes(value)) {
        throw new InvalidValue(`expected one of ${option.values!.join(', ')}, got ${describe(value)}`);
      }
      return value;
    case 'bytes':
      return checkBytes(option, value);
    case 'string-list':
      return checkStringList(value);
    case 'users':
      return checkUsers(value, userKeys);
  }
}

/** Converts a command-line string to the option's type, then checks it. */
function valueFromFlag(option: OptionSpec, text: string): unknown {
  switch (option.type) {
    case 'int':
      if (!/^[+-]?\d+$/.test(text.trim())) throw new InvalidValue(`expected an integer${rangeText(option)}, got ${describe(text)}`);
      return checkInt(option, Number(text));
    case 'string-list':
      return text.split(',').map((item) => item.trim()).filter((item) => item !== '');
    default:
      return checkValue(option, text, CODE_USER_KEYS);
  }
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** ` (did you mean "x"?)` for the closest known name, or '' when none is close. */
function suggestion(name: string, known: readonly string[]): string {
  const normalize = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/^-+/, '').replace(/-/g, '_').toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(normalize(name), normalize(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(name.length / 3));
  return best !== undefined && bestDistance <= limit ? ` (did you mean ${JSON.stringify(best)}?)` : '';
}

function flagError(flag: string, err: unknown): ConfigError {
  if (err instanceof InvalidValue) return new ConfigError(`${flag}${err.path}: ${err.message}`);
  return err as ConfigError;
}

/** Parses command-line arguments (without node and script). Throws ConfigError. */
export function parseArgs(argv: string[]): ParsedArgs {
  const parsed: ParsedArgs = { help: false, version: false, overrides: {} };
  const overrides = parsed.overrides as Record<string, unknown>;
  const flags = OPTIONS.filter((option) => option.flag !== undefined);
  const knownFlags = ['--config', '--help', '--version', ...flags.map((option) => option.flag!)];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see --help)`);
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    if (flag === '-h' || flag === '--help' || flag === '--version') {
      if (inline !== undefined) throw new ConfigError(`${flag} takes no value`);
      if (flag === '--version') parsed.version = true;
      else parsed.help = true;
      continue;
    }
    const option = flags.find((candidate) => candidate.flag === flag);
    if (option === undefined && flag !== '--config') {
      throw new ConfigError(`unknown option ${flag}${suggestion(flag, knownFlags)} (see --help)`);
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`${flag} needs a value`);
      value = next;
      i++;
    }
    if (option === undefined) {
      if (value === '') throw new ConfigError('--config needs a file name');
      parsed.configFile = value;
      continue;
    }
    try {
      overrides[option.key] = valueFromFlag(option, value);
    } catch (err) {
      throw flagError(flag, err);
    }
  }
  return parsed;
}

/** Reads and checks a YAML config file. Throws ConfigError naming the file and key. */
export function readConfigFile(path: string): Partial<BrokerConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`config file ${path} not found`);
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  const document = YAML.parseDocument(text);
  const syntaxError = document.errors[0];
  if (syntaxError !== undefined) {
    throw new ConfigError(`${path}: invalid YAML: ${syntaxError.message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  const data: unknown = document.toJS();
  if (data === null || data === undefined) return {};
  if (!isMapping(data)) throw new ConfigError(`${path}: expected a mapping of option: value at the top level, got ${describe(data)}`);
  const known = OPTIONS.map((option) => option.yaml);
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    const option = OPTIONS.find((candidate) => candidate.yaml === key);
    if (option === undefined) throw new ConfigError(`${path}: unknown option ${JSON.stringify(key)}${suggestion(key, known)}`);
    try {
      result[option.key] = checkValue(option, value, YAML_USER_KEYS);
    } catch (err) {
      if (err instanceof InvalidValue) throw new ConfigError(`${path}: ${key}${err.path}: ${err.message}`);
      throw err;
    }
  }
  return result as Partial<BrokerConfig>;
}

/** DEFAULT_CONFIG overlaid by each layer in turn (undefined values skipped), checked, as a fresh object. */
export function resolveConfig(...layers: Partial<BrokerConfig>[]): BrokerConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG };
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (optionByKey(key) === undefined) throw new ConfigError(`invalid config: unknown option ${JSON.stringify(key)}`);
      if (value !== undefined) merged[key] = value;
    }
  }
  const config: Record<string, unknown> = {};
  for (const option of OPTIONS) {
    try {
      config[option.key] = checkValue(option, merged[option.key], CODE_USER_KEYS);
    } catch (err) {
      if (err instanceof InvalidValue) throw new ConfigError(`invalid config: ${option.key}${err.path}: ${err.message}`);
      throw err;
    }
  }
  return config as unknown as BrokerConfig;
}

/** defaults < YAML file (from --config) < flags. Throws ConfigError. */
export function loadConfig(argv: string[]): { config: BrokerConfig; configFile?: string; help: boolean; version: boolean } {
  const args = parseArgs(argv);
  const fileLayer = args.configFile === undefined ? {} : readConfigFile(args.configFile);
  const config = resolveConfig(fileLayer, args.overrides);
  const result: { config: BrokerConfig; configFile?: string; help: boolean; version: boolean } = { config, help: args.help, version: args.version };
  if (args.configFile !== undefined) result.configFile = args.configFile;
  return result;
}

function defaultText(option: OptionSpec): string {
  const value = option.default;
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(',');
  return value === '' ? 'none' : String(value);
}

/** The --help text: usage, then one line per option from OPTIONS. */
export function helpText(): string {
  const rows: [string, string][] = [
    ['--config FILE', 'Read options from a YAML file (see etc/warren.yaml); flags override it'],
  ];
  for (const option of OPTIONS) {
    if (option.flag === undefined) continue;
    rows.push([`${option.flag} ${option.metavar ?? 'VALUE'}`, `${option.doc} (default: ${defaultText(option)})`]);
  }
  rows.push(['-h, --help', 'Show this help and exit'], ['--version', 'Show the version and exit']);
  const yamlOnly = OPTIONS.filter((option) => option.flag === undefined)
    .map((option): [string, string] => [option.yaml, `${option.doc} (default: ${defaultText(option)})`]);
  const width = Math.max(...[...rows, ...yamlOnly].map(([name]) => name.length)) + 2;
  const format = ([name, doc]: [string, string]): string => `  ${name.padEnd(width)}${doc}`;
  return [
    'usage: warren [--config FILE] [--port N] [--bind ADDR] [--data-dir DIR] [--log-level LEVEL] [options]',
    '',
    'Options:',
    ...rows.map(format),
    '',
    'Config-file-only options (YAML keys):',
    ...yamlOnly.map(format),
    '',
  ].join('\n');
}

function commentLines(text: string, width = 78): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/)) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

const USERS_EXAMPLE = [
  '# Example:',
  '# users:',
  '#   - name: alice',
  '#     password: change-me',
  '#     tags: [management]',
  '#     permissions:',
  '#       - { vhost: "/", configure: ".*", write: ".*", read: ".*" }',
  '#   - name: reporter',
  '#     # RabbitMQ-style hash: base64 of a 4-byte salt + SHA-256(salt + password)',
  '#     password_hash: "xRih6YHsGh6gnCoG304VNkAgQUwnFvg8P/GDMhgh+HLA2FzP"',
  '#     permissions:',
  `#       - { vhost: "/", configure: "", write: "", read: '^reports\\.' }`,
];

/** The content of etc/warren.yaml: every option with its doc and default, in table order. */
export function renderDefaultYaml(): string {
  const lines = [
    '# warren configuration file.',
    '#',
    '# Every option is listed with its default value. Start the broker with',
    '#   warren --config etc/warren.yaml',
    '# Command-line flags (see warren --help) override values in this file.',
    '# Generated by renderDefaultYaml() in lib/config/load-config.ts from the',
    '# option table in lib/config/options.ts.',
  ];
  for (const option of OPTIONS) {
    lines.push('', ...commentLines(option.doc));
    if (option.type === 'users') lines.push(...USERS_EXAMPLE);
    const value = option.type === 'int' || option.type === 'bytes' ? String(option.default) : JSON.stringify(option.default);
    lines.push(`${option.yaml}: ${value}`);
  }
  return `${lines.join('\n')}\n`;
}
