/**
 * bin/warrenctl: manage a running warren as rabbitmqctl manages RabbitMQ,
 * through the management HTTP API.
 *
 *   warrenctl [--url URL] [--username U] [--password P] [-p VHOST] [-q] [-s]
 *             [--no-table-headers] [--formatter json] [-t SECONDS] COMMAND [ARGS]
 *
 * Options go before or after the command. URL, user and password default to
 * $WARREN_URL, $WARREN_USERNAME, $WARREN_PASSWORD, then
 * http://127.0.0.1:15672 and guest / guest. Output is rabbitmqctl's:
 * informational lines ("Listing queues for vhost / ...", left out with -q or
 * --formatter json, and printed only once the broker has answered), then a
 * tab-separated table with a header line (left out with --no-table-headers;
 * -s is both). Errors: "Error: ..." on one stderr line and a sysexits code
 * (EXIT in warrenctl-core.ts): 64 usage, 65 bad data, 67 no such user, 69
 * unreachable broker, 70 unexpected answer, 75 timeout, 77 credentials or
 * tags refused, and rabbitmqctl's own code where it has one.
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { ConnectError, HttpClient, HttpError, TimeoutError } from './http-client.js';
import type { Transport } from './http-client.js';
import { COMMANDS } from './warrenctl-commands.js';
import { CtlError, EXIT, usageError } from './warrenctl-core.js';
import type { Command, CommandContext, GlobalOptions, OptionSpec } from './warrenctl-core.js';
import { formatJsonList, formatTable } from './warrenctl-format.js';
import { WARREN_VERSION } from '../server/server-properties.js';

export const DEFAULT_URL = 'http://127.0.0.1:15672';

export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  url: { type: 'string', value: '<url>', help: `management HTTP API base URL (default $WARREN_URL, else ${DEFAULT_URL})` },
  username: { type: 'string', value: '<username>', help: 'user to authenticate as (default $WARREN_USERNAME, else guest)' },
  password: { type: 'string', value: '<password>', help: 'its password (default $WARREN_PASSWORD, else guest)' },
  vhost: { type: 'string', short: 'p', value: '<vhost>', help: 'for commands that are scoped to a virtual host, virtual host to use (default /)' },
  quiet: { type: 'boolean', short: 'q', help: 'suppress informational messages' },
  silent: { type: 'boolean', short: 's', help: 'suppress informational messages and table header row' },
  'no-table-headers': { type: 'boolean', help: 'suppress the table header row' },
  formatter: { type: 'string', value: '<table|json>', help: 'alternative result formatter: json (default: table)' },
  timeout: { type: 'string', short: 't', value: '<seconds>', help: 'operation timeout in seconds (default 60)' },
  help: { type: 'boolean', short: '?', help: 'displays command help' },
};

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  readStdin(): Promise<string>;
  stdinIsTTY: boolean;
  /** replaceable in unit tests */
  transport?: Transport;
}

export type Invocation =
  | { kind: 'help'; command?: Command }
  | { kind: 'version' }
  | { kind: 'run'; command: Command; global: GlobalOptions; args: string[]; opts: Record<string, string | boolean | undefined>; columns: string[] };

/** Every option any command takes, for the first pass of parsing. */
function allOptions(): Record<string, OptionSpec> {
  const all: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS };
  for (const c of COMMANDS.values()) Object.assign(all, c.options);
  return all;
}

/** Parse a command line; throws a usage CtlError (64). */
export function parse(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Invocation {
  const options = allOptions();
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: options as never, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw usageError((err as Error).message.split('. To specify')[0]!.replace(/\.$/, ''));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const [name, ...args] = parsed.positionals;
  if (name === undefined) {
    if (values.help) return { kind: 'help' };
    throw usageError("no command given; 'warrenctl help' lists the commands");
  }
  if (name === 'help') {
    if (args.length === 0) return { kind: 'help' };
    const c = COMMANDS.get(args[0]!);
    if (!c || args.length > 1) throw usageError(`Command '${args.join(' ')}' not found; 'warrenctl help' lists the commands`);
    return { kind: 'help', command: c };
  }
  if (name === 'version') return { kind: 'version' };
  const command = COMMANDS.get(name);
  if (!command) throw usageError(`Command '${name}' not found; 'warrenctl help' lists the commands`);
  if (values.help) return { kind: 'help', command };
  const invalid = (parsed.tokens ?? [])
    .filter((t) => t.kind === 'option' && !(t.name in GLOBAL_OPTIONS) && !(command.options && t.name in command.options))
    .map((t) => (t.kind === 'option' ? t.rawName : ''));
  if (invalid.length > 0) throw usageError(`Invalid options for ${name}: ${invalid.join(' ')}; usage: ${usageLine(command)}`);
  const [min, max] = command.args;
  if (args.length < min) throw usageError(`not enough arguments for ${name}; usage: ${usageLine(command)}`);
  if (args.length > max) throw usageError(`too many arguments for ${name}; usage: ${usageLine(command)}`);
  let columns: string[] = [];
  if (command.columns) {
    const asked = max === Infinity ? args.slice(min).flatMap((a) => a.split(',')).map((a) => a.trim()).filter((a) => a !== '') : [];
    const bad = asked.filter((c) => !(c in command.columns!.set));
    if (bad.length > 0) throw usageError(`Info key(s) ${bad.join(',')} are not supported; 'warrenctl help ${name}' lists the columns`);
    columns = asked.length > 0 ? asked : [...command.columns.defaults];
  }
  const opts: Record<string, string | boolean | undefined> = {};
  for (const key of Object.keys(command.options ?? {})) opts[key] = values[key];
  return { kind: 'run', command, global: globalOptions(values, env), args: command.columns && max === Infinity ? args.slice(0, min) : args, opts, columns };
}

function globalOptions(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): GlobalOptions {
  const url = (values.url as string | undefined) ?? env.WARREN_URL ?? DEFAULT_URL;
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw usageError(`--url: '${url}' is not a URL`);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') throw usageError(`--url: '${url}' is not an http:// or https:// URL`);
  const formatter = (values.formatter as string | undefined) ?? 'table';
  if (formatter !== 'table' && formatter !== 'json') throw usageError(`--formatter: '${formatter}' is not supported; use table or json`);
  const timeout = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw usageError(`--timeout: '${String(values.timeout)}' is not a positive number of seconds`);
  return {
    url,
    username: (values.username as string | undefined) ?? env.WARREN_USERNAME ?? 'guest',
    password: (values.password as string | undefined) ?? env.WARREN_PASSWORD ?? 'guest',
    vhost: (values.vhost as string | undefined) ?? '/',
    formatter,
    quiet: values.quiet === true || values.silent === true || formatter === 'json',
    tableHeaders: !(values['no-table-headers'] === true || values.silent === true),
    timeoutSeconds: timeout,
  };
}

const PREFIX = 'warrenctl [--url <url>] [--username <username>] [--password <password>] [--quiet]';

export function usageLine(c: Command): string {
  return `warrenctl ${c.name}${c.usage ? ' ' + c.usage : ''}`;
}

function optionLine(name: string, o: OptionSpec): string {
  const short = o.short ? `-${o.short}, ` : '';
  return `${short}--${name}${o.value ? ' ' + o.value : ''}`;
}

function generalOptions(): string[] {
  const lines = ['General Options', '', 'The following options are accepted by every command, before or after it:', ''];
  for (const [name, o] of Object.entries(GLOBAL_OPTIONS)) lines.push(`${optionLine(name, o).padEnd(32)}${o.help}`);
  return lines;
}

export function helpText(command?: Command): string {
  if (command) {
    const lines = ['Usage', '', `${PREFIX} ${command.name}${command.usage ? ' ' + command.usage : ''}`, '', `${command.summary}.`, ''];
    const detail: string[] = [];
    if (command.columns && command.args[1] === Infinity) {
      detail.push('<column>', `\tmust be one of ${Object.keys(command.columns.set).sort().join(', ')}`, `\tdefault: ${command.columns.defaults.join(' ')}`);
    }
    detail.push(...(command.help ?? []));
    for (const [name, o] of Object.entries(command.options ?? {})) detail.push(optionLine(name, o), `\t${o.help}`);
    if (detail.length > 0) lines.push('Arguments and Options', '', ...detail, '');
    return [...lines, ...generalOptions()].join('\n') + '\n';
  }
  const lines = ['Usage', '', `${PREFIX} <command> [<command options>]`, '',
    'Manages a running warren broker through its management HTTP API, as rabbitmqctl manages RabbitMQ.', '', 'Available commands:', ''];
  const groups = new Map<string, Command[]>([['Help', []]]);
  for (const c of COMMANDS.values()) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  for (const [group, commands] of groups) {
    lines.push(`${group}:`, '');
    if (group === 'Help') lines.push(`   ${'help'.padEnd(30)}Displays usage information for a command`, `   ${'version'.padEnd(30)}Displays warrenctl's version`);
    for (const c of [...commands].sort((a, b) => a.name.localeCompare(b.name))) lines.push(`   ${c.name.padEnd(30)}${c.summary}`);
    lines.push('');
  }
  lines.push("Use 'warrenctl help <command>' to learn more about a specific command", '');
  return [...lines, ...generalOptions()].join('\n') + '\n';
}

/** The one line and the exit code for a failure. */
export function describeError(err: unknown, global: GlobalOptions): [message: string, code: number] {
  if (err instanceof CtlError) return [err.message, err.exitCode];
  if (err instanceof ConnectError) return [`unable to connect to the management HTTP API at ${err.url} (${err.code})`, EXIT.UNAVAILABLE];
  if (err instanceof TimeoutError) return [`operation timed out: ${err.message}`, EXIT.TEMPFAIL];
  if (err instanceof HttpError) {
    const why = err.reason || err.error;
    if (err.status === 401 && /login failed/i.test(why)) return [`authentication failed for user '${global.username}' (${why})`, EXIT.NOPERM];
    if (err.status === 401 || err.status === 403) return [`user '${global.username}' may not ${err.method} ${err.path} (${why})`, EXIT.NOPERM];
    if (err.status === 400) return [why, EXIT.DATAERR];
    return [`${err.method} ${err.path} answered ${err.status} ${err.error}${err.reason ? ` (${err.reason})` : ''}`, EXIT.SOFTWARE];
  }
  return [err instanceof Error ? err.message : String(err), EXIT.SOFTWARE];
}

/** Run one command line; resolves with the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  let inv: Invocation;
  try {
    inv = parse(argv, io.env);
  } catch (err) {
    if (!(err instanceof CtlError)) throw err;
    io.stderr(`Error: ${err.message}\n`);
    return err.exitCode;
  }
  if (inv.kind === 'help') {
    io.stdout(helpText(inv.command));
    return EXIT.OK;
  }
  if (inv.kind === 'version') {
    io.stdout(`${WARREN_VERSION}\n`);
    return EXIT.OK;
  }
  const { command, global } = inv;
  const held: string[] = [];
  let answered = false;
  let printed = false;
  const connected = (): void => {
    answered = true;
    for (const line of held.splice(0)) io.stdout(line + '\n');
  };
  const out = (text: string): void => {
    connected();
    printed = true;
    io.stdout(text);
  };
  const client = new HttpClient({
    url: global.url,
    username: global.username,
    password: global.password,
    timeoutMs: global.timeoutSeconds * 1000,
    ...(io.transport ? { transport: io.transport } : {}),
    // a 401 is a refusal of our credentials: as good as not reaching the broker
    onResponse: (status) => {
      if (status !== 401) connected();
    },
  });
  const ctx: CommandContext = {
    client,
    global,
    args: inv.args,
    opts: inv.opts,
    columns: inv.columns,
    stdinIsTTY: io.stdinIsTTY,
    connected,
    info(line) {
      if (global.quiet) return;
      if (answered) io.stdout(line + '\n');
      else held.push(line);
    },
    result(line, extra = {}) {
      out(global.formatter === 'json' ? JSON.stringify({ result: 'ok', ...extra }) + '\n' : line + '\n');
    },
    list(columns, rows) {
      out(global.formatter === 'json' ? formatJsonList(rows) : formatTable(columns, rows, global.tableHeaders));
    },
    out,
    readInput: (file) => (file === '-' ? io.readStdin() : readFile(file, 'utf8')),
  };
  try {
    await command.run(ctx);
  } catch (err) {
    const [message, code] = describeError(err, global);
    io.stderr(`Error: ${message}\n`);
    return code;
  }
  connected();
  if (global.formatter === 'json' && !printed) io.stdout(JSON.stringify({ result: 'ok' }) + '\n');
  return EXIT.OK;
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => parts.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** bin/warrenctl's entry point. */
export function main(argv: string[]): Promise<number> {
  return run(argv, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    readStdin,
    stdinIsTTY: process.stdin.isTTY === true,
  });
}
