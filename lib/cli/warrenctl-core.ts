/**
 * What warrenctl's commands are made of: the Command shape the command
 * tables (warrenctl-commands.ts, warrenctl-list-commands.ts) fill in, the
 * context a command runs with, the error that carries an exit code, and the
 * exit codes themselves (rabbitmqctl's, which are sysexits(3) values).
 */
import type { HttpClient } from './http-client.js';
import { HttpError } from './http-client.js';
import type { ColumnSet, Row } from './warrenctl-format.js';

export const EXIT = {
  OK: 0,
  /** bad command line (EX_USAGE) */
  USAGE: 64,
  /** bad input: a missing file, malformed JSON, a vhost that does not exist for delete_vhost (EX_DATAERR) */
  DATAERR: 65,
  /** no such user (EX_NOUSER) */
  NOUSER: 67,
  /** the broker cannot be reached, or refused the operation (EX_UNAVAILABLE) */
  UNAVAILABLE: 69,
  /** the broker failed or answered something unexpected (EX_SOFTWARE) */
  SOFTWARE: 70,
  /** no answer within --timeout (EX_TEMPFAIL) */
  TEMPFAIL: 75,
  /** the management API refused our credentials or our user's tags (EX_NOPERM) */
  NOPERM: 77,
} as const;

/** A failure with its exit code; the message is printed as "Error: MESSAGE". */
export class CtlError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CtlError';
  }
}

export const usageError = (message: string): CtlError => new CtlError(message, EXIT.USAGE);

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** "<text>" for a string option's value in help */
  value?: string;
  help: string;
}

export interface GlobalOptions {
  url: string;
  username: string;
  password: string;
  vhost: string;
  formatter: 'table' | 'json';
  quiet: boolean;
  tableHeaders: boolean;
  timeoutSeconds: number;
}

export interface CommandContext {
  readonly client: HttpClient;
  readonly global: GlobalOptions;
  /** positional arguments after the command name */
  readonly args: readonly string[];
  /** the command's own options */
  readonly opts: Readonly<Record<string, string | boolean | undefined>>;
  /** list commands: the columns asked for (or the defaults), already checked */
  readonly columns: readonly string[];
  readonly stdinIsTTY: boolean;
  /** the broker answered: print the informational lines held until now */
  connected(): void;
  /** an informational line ("Listing queues for vhost / ..."): not with -q or --formatter json, and only once the broker answered */
  info(line: string): void;
  /** a result: the line in table mode, {"result":"ok", ...extra} in json mode */
  result(line: string, extra?: Row): void;
  /** rows, as a table or a JSON list */
  list(columns: readonly string[], rows: readonly Row[]): void;
  /** text as it is, to stdout */
  out(text: string): void;
  /** a file's contents, or stdin for "-" */
  readInput(file: string): Promise<string>;
}

export interface Command {
  name: string;
  /** help's section */
  group: string;
  summary: string;
  /** the arguments part of the usage line */
  usage: string;
  /** positional arguments: at least min, at most max (Infinity for column lists) */
  args: [min: number, max: number];
  /** takes -p / --vhost */
  vhost?: boolean;
  options?: Readonly<Record<string, OptionSpec>>;
  /** list commands: the column names accepted (positional arguments) and the default ones */
  columns?: { set: ColumnSet; defaults: readonly string[] };
  /** extra help lines (argument descriptions) */
  help?: readonly string[];
  run(ctx: CommandContext): Promise<void>;
}

/** An HttpError with one of these statuses, else undefined. */
export function httpStatus(err: unknown, ...statuses: number[]): number | undefined {
  return err instanceof HttpError && statuses.includes(err.status) ? err.status : undefined;
}

/** Whether GET path answers 404 (other failures propagate). */
export async function isMissing(client: HttpClient, path: string): Promise<boolean> {
  try {
    await client.get(path);
    return false;
  } catch (err) {
    if (httpStatus(err, 404)) return true;
    throw err;
  }
}

/** The list a GET answers (an API listing), or a CtlError if it is not one. */
export async function getList(client: HttpClient, path: string): Promise<Row[]> {
  const body = await client.get(path);
  if (Array.isArray(body)) return body as Row[];
  // paginated answers ({items: [...]}) when a broker pages by default
  if (body && typeof body === 'object' && Array.isArray((body as Row).items)) return (body as { items: Row[] }).items;
  throw new CtlError(`GET ${path} did not answer a list`, EXIT.SOFTWARE);
}

/** Tags as the API takes them (a comma-separated list, RabbitMQ 3.10's documented form). */
export function tagList(tags: readonly string[]): string {
  return tags.flatMap((t) => t.split(',')).map((t) => t.trim()).filter((t) => t !== '').join(',');
}
