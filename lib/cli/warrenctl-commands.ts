/**
 * warrenctl's commands for the node, virtual hosts, users, permissions and
 * definitions (the queue, exchange, binding, connection, channel and
 * consumer ones are in warrenctl-list-commands.ts), with rabbitmqctl 3.10's
 * names, arguments, informational lines, columns and error texts, each
 * carried out with the management HTTP API:
 *
 *   status                 GET /api/overview
 *   vhosts                 GET /api/vhosts, PUT / DELETE /api/vhosts/{vhost}
 *   users                  GET /api/users, GET / PUT / DELETE /api/users/{name}
 *   authenticate_user      GET /api/whoami with the user's own credentials
 *   permissions            GET /api/vhosts/{vhost}/permissions, GET /api/users/{name}/permissions,
 *                          PUT / DELETE /api/permissions/{vhost}/{user}
 *   definitions            GET / POST /api/definitions
 *
 * A PUT /api/users/{name} without a password clears the password, so
 * set_user_tags sends the user's password_hash back, and change_password
 * the user's tags.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { apiPath, HttpError } from './http-client.js';
import { CtlError, EXIT, getList, httpStatus, isMissing, tagList } from './warrenctl-core.js';
import type { Command, CommandContext } from './warrenctl-core.js';
import { project } from './warrenctl-format.js';
import type { ColumnSet, Row } from './warrenctl-format.js';
import { LIST_COMMANDS } from './warrenctl-list-commands.js';

const LISTENER_PURPOSE: Record<string, string> = {
  amqp: 'AMQP 0-9-1 and AMQP 1.0',
  'amqp/ssl': 'AMQP 0-9-1 and AMQP 1.0 over TLS',
  http: 'HTTP API',
  https: 'HTTP API over TLS (HTTPS)',
  clustering: 'inter-node and CLI tool communication',
};

async function status(ctx: CommandContext): Promise<void> {
  const o = (await ctx.client.get<Row>('/api/overview')) ?? {};
  const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
  const totals = (o.object_totals ?? {}) as Row;
  const queued = (o.queue_totals ?? {}) as Row;
  const listeners = Array.isArray(o.listeners) ? (o.listeners as Row[]) : [];
  ctx.info(`Status of node ${String(o.node ?? '')} ...`);
  const status = {
    node: o.node,
    product_name: o.product_name,
    product_version: o.product_version,
    rabbitmq_version: o.rabbitmq_version,
    management_version: o.management_version,
    erlang_version: o.erlang_full_version ?? o.erlang_version,
    totals: {
      connection_count: num(totals.connections),
      channel_count: num(totals.channels),
      queue_count: num(totals.queues),
      exchange_count: num(totals.exchanges),
      consumer_count: num(totals.consumers),
      messages: num(queued.messages),
      messages_ready: num(queued.messages_ready),
      messages_unacknowledged: num(queued.messages_unacknowledged),
    },
    listeners: listeners.map((l) => ({
      interface: l.ip_address,
      node: l.node,
      port: l.port,
      protocol: l.protocol,
      purpose: LISTENER_PURPOSE[String(l.protocol)] ?? String(l.protocol),
    })),
  };
  if (ctx.global.formatter === 'json') return ctx.out(JSON.stringify(status) + '\n');
  const t = status.totals;
  const lines = ['Runtime', ''];
  if (o.product_name !== undefined) lines.push(`Product name: ${String(o.product_name)}`);
  if (o.product_version !== undefined) lines.push(`Product version: ${String(o.product_version)}`);
  if (o.rabbitmq_version !== undefined) lines.push(`RabbitMQ version: ${String(o.rabbitmq_version)}`);
  lines.push(`Node name: ${String(o.node ?? '')}`);
  if (status.erlang_version !== undefined) lines.push(`Erlang configuration: ${String(status.erlang_version)}`);
  if (o.management_version !== undefined) lines.push(`Management API version: ${String(o.management_version)}`);
  lines.push('', 'Totals', '');
  lines.push(`Connection count: ${t.connection_count}`, `Channel count: ${t.channel_count}`, `Queue count: ${t.queue_count}`);
  lines.push(`Exchange count: ${t.exchange_count}`, `Consumer count: ${t.consumer_count}`);
  lines.push(`Message count: ${t.messages} (${t.messages_ready} ready, ${t.messages_unacknowledged} unacknowledged)`);
  lines.push('', 'Listeners', '');
  if (status.listeners.length === 0) lines.push('(none)');
  for (const l of status.listeners) lines.push(`Interface: ${String(l.interface)}, port: ${String(l.port)}, protocol: ${String(l.protocol)}, purpose: ${l.purpose}`);
  ctx.out(lines.join('\n') + '\n');
}

/** A listing: the GET's items projected on the chosen columns. */
async function listing(ctx: CommandContext, path: string, set: ColumnSet): Promise<void> {
  const items = await getList(ctx.client, path);
  ctx.list(ctx.columns, project(items, ctx.columns, set));
}

const tagsOf = (u: Row): string[] => (Array.isArray(u.tags) ? (u.tags as string[]) : String(u.tags ?? '').split(',').filter((t) => t !== ''));

/** A user, or "User "x" does not exist" (67). */
async function getUser(ctx: CommandContext, name: string): Promise<Row> {
  try {
    return await ctx.client.get<Row>(apiPath('users', name));
  } catch (err) {
    if (httpStatus(err, 404)) throw new CtlError(`User "${name}" does not exist`, EXIT.NOUSER);
    throw err;
  }
}

/** The password argument, or the first line of stdin when it is not given (and stdin is not a terminal). */
async function passwordArg(ctx: CommandContext, arg: string | undefined): Promise<string> {
  if (arg !== undefined) return arg;
  const line = ctx.stdinIsTTY ? '' : (await ctx.readInput('-')).split(/\r?\n/)[0]!;
  if (line === '') throw new CtlError('Password is not provided via argument or stdin', EXIT.SOFTWARE);
  return line;
}

const VHOST_COLUMNS: ColumnSet = {
  name: 'name',
  description: (v) => v.description ?? (v.metadata as Row | undefined)?.description,
  tags: (v) => v.tags ?? (v.metadata as Row | undefined)?.tags,
  tracing: 'tracing',
  cluster_state: 'cluster_state',
  default_queue_type: 'default_queue_type',
};
const USER_COLUMNS: ColumnSet = { user: 'name', tags: 'tags' };
const VHOST_PERMISSION_COLUMNS: ColumnSet = { user: 'user', configure: 'configure', write: 'write', read: 'read' };
const USER_PERMISSION_COLUMNS: ColumnSet = { vhost: 'vhost', configure: 'configure', write: 'write', read: 'read' };

const ADMIN_COMMANDS: Command[] = [
  {
    name: 'status', group: 'Monitoring, observability and health checks', summary: 'Displays status of a node',
    usage: '', args: [0, 0], run: status,
  },
  {
    name: 'list_vhosts', group: 'Access Control', summary: 'Lists virtual hosts', usage: '[--no-table-headers] [<column> ...]',
    args: [0, Infinity], columns: { set: VHOST_COLUMNS, defaults: ['name'] },
    async run(ctx) {
      ctx.info('Listing vhosts ...');
      await listing(ctx, '/api/vhosts', VHOST_COLUMNS);
    },
  },
  {
    name: 'add_vhost', group: 'Virtual hosts', summary: 'Creates a virtual host',
    usage: '<vhost> [--description <description> --tags "<tag1>,<tag2>,<...>"]', args: [1, 1],
    options: {
      description: { type: 'string', value: '<description>', help: 'Virtual host description' },
      tags: { type: 'string', value: '<tags>', help: 'Comma separated list of tags' },
      'default-queue-type': { type: 'string', value: '<quorum|classic|stream>', help: 'Queue type to use if no type is explicitly provided by the client' },
    },
    help: ['<vhost>', '\tVirtual host name'],
    async run(ctx) {
      const vhost = ctx.args[0]!;
      ctx.info(`Adding vhost "${vhost}" ...`);
      // rabbitmqctl leaves an existing vhost as it is
      if (!(await isMissing(ctx.client, apiPath('vhosts', vhost)))) return;
      const body: Row = {};
      if (typeof ctx.opts.description === 'string') body.description = ctx.opts.description;
      if (typeof ctx.opts.tags === 'string') body.tags = tagList([ctx.opts.tags]);
      if (typeof ctx.opts['default-queue-type'] === 'string') body.default_queue_type = ctx.opts['default-queue-type'];
      await ctx.client.put(apiPath('vhosts', vhost), body);
    },
  },
  {
    name: 'delete_vhost', group: 'Virtual hosts', summary: 'Deletes a virtual host', usage: '<vhost>', args: [1, 1],
    async run(ctx) {
      const vhost = ctx.args[0]!;
      ctx.info(`Deleting vhost "${vhost}" ...`);
      try {
        await ctx.client.delete(apiPath('vhosts', vhost));
      } catch (err) {
        if (httpStatus(err, 404)) throw new CtlError(`Virtual host '${vhost}' does not exist`, EXIT.DATAERR);
        throw err;
      }
    },
  },
  {
    name: 'list_users', group: 'Users', summary: 'List user names and tags', usage: '[--no-table-headers]', args: [0, 0],
    columns: { set: USER_COLUMNS, defaults: ['user', 'tags'] },
    async run(ctx) {
      ctx.info('Listing users ...');
      await listing(ctx, '/api/users', USER_COLUMNS);
    },
  },
  {
    name: 'add_user', group: 'Users', summary: 'Creates a new user. This user will have no permissions for any virtual hosts by default.',
    usage: '<username> <password>', args: [1, 2],
    help: ['<username>', '\tSelf-explanatory', '<password>', '\tPassword this user will authenticate with (read from stdin when omitted)'],
    async run(ctx) {
      const [user, arg] = ctx.args as [string, string?];
      const password = await passwordArg(ctx, arg);
      ctx.info(`Adding user "${user}" ...`);
      // PUT would update an existing user; rabbitmqctl refuses
      if (!(await isMissing(ctx.client, apiPath('users', user)))) throw new CtlError(`User "${user}" already exists`, EXIT.SOFTWARE);
      await ctx.client.put(apiPath('users', user), { password, tags: '' });
      ctx.info("Done. Don't forget to grant the user permissions to some virtual hosts! See 'warrenctl help set_permissions' to learn more.");
    },
  },
  {
    name: 'delete_user', group: 'Users', summary: 'Removes a user', usage: '<username>', args: [1, 1],
    async run(ctx) {
      const user = ctx.args[0]!;
      ctx.info(`Deleting user "${user}" ...`);
      try {
        await ctx.client.delete(apiPath('users', user));
      } catch (err) {
        if (httpStatus(err, 404)) throw new CtlError(`User "${user}" does not exist`, EXIT.NOUSER);
        throw err;
      }
    },
  },
  {
    name: 'change_password', group: 'Users', summary: 'Changes the user password', usage: '<username> <password>', args: [1, 2],
    async run(ctx) {
      const [user, arg] = ctx.args as [string, string?];
      const password = await passwordArg(ctx, arg);
      ctx.info(`Changing password for user "${user}" ...`);
      const u = await getUser(ctx, user);
      await ctx.client.put(apiPath('users', user), { password, tags: tagList(tagsOf(u)) });
    },
  },
  {
    name: 'set_user_tags', group: 'Users', summary: 'Sets user tags', usage: '<username> <tag> [...]', args: [1, Infinity],
    help: ['<username>', '\tSelf-explanatory', '<tags>', '\tSpace separated list of tags'],
    async run(ctx) {
      const [user, ...tags] = ctx.args as [string, ...string[]];
      ctx.info(`Setting tags for user "${user}" to [${tags.join(', ')}] ...`);
      const u = await getUser(ctx, user);
      const body: Row = { tags: tagList(tags) };
      // keep the password: a PUT without one would clear it
      if (typeof u.password_hash === 'string') {
        body.password_hash = u.password_hash;
        if (typeof u.hashing_algorithm === 'string') body.hashing_algorithm = u.hashing_algorithm;
      }
      await ctx.client.put(apiPath('users', user), body);
    },
  },
  {
    name: 'authenticate_user', group: 'Users', summary: 'Attempts to authenticate a user. Exits with a non-zero code if authentication fails.',
    usage: '<username> <password>', args: [1, 2],
    async run(ctx) {
      const [user, arg] = ctx.args as [string, string?];
      const password = await passwordArg(ctx, arg);
      ctx.info(`Authenticating user "${user}" ...`);
      try {
        await ctx.client.withCredentials(user, password).get('/api/whoami');
      } catch (err) {
        // the credentials are right but the user may not use the management API: 403 (warren), 401 "Not management user" (RabbitMQ 3.10)
        const refusedTag = err instanceof HttpError && (err.status === 403 || (err.status === 401 && /not.*(management|administrator|monitor)/i.test(err.reason)));
        if (!refusedTag) {
          if (err instanceof HttpError && err.status === 401) {
            ctx.connected();
            throw new CtlError(`failed to authenticate user "${user}": user '${user}' - invalid credentials`, EXIT.DATAERR);
          }
          throw err;
        }
      }
      ctx.connected();
      ctx.result('Success');
    },
  },
  {
    name: 'list_permissions', group: 'Access Control', summary: 'Lists user permissions in a virtual host', usage: '[--vhost <vhost>] [--no-table-headers]',
    args: [0, 0], vhost: true, columns: { set: VHOST_PERMISSION_COLUMNS, defaults: ['user', 'configure', 'write', 'read'] },
    async run(ctx) {
      const vhost = ctx.global.vhost;
      ctx.info(`Listing permissions for vhost "${vhost}" ...`);
      try {
        await listing(ctx, apiPath('vhosts', vhost, 'permissions'), VHOST_PERMISSION_COLUMNS);
      } catch (err) {
        if (httpStatus(err, 404)) throw new CtlError(`Virtual host '${vhost}' does not exist`, EXIT.DATAERR);
        throw err;
      }
    },
  },
  {
    name: 'list_user_permissions', group: 'Access Control', summary: 'Lists permissions of a user across all virtual hosts',
    usage: '[--no-table-headers] <username>', args: [1, 1], columns: { set: USER_PERMISSION_COLUMNS, defaults: ['vhost', 'configure', 'write', 'read'] },
    async run(ctx) {
      const user = ctx.args[0]!;
      ctx.info(`Listing permissions for user "${user}" ...`);
      try {
        await listing(ctx, apiPath('users', user, 'permissions'), USER_PERMISSION_COLUMNS);
      } catch (err) {
        if (httpStatus(err, 404)) throw new CtlError(`User "${user}" does not exist`, EXIT.UNAVAILABLE);
        throw err;
      }
    },
  },
  {
    name: 'set_permissions', group: 'Access Control', summary: 'Sets user permissions for a vhost',
    usage: '[--vhost <vhost>] <username> <conf> <write> <read>', args: [4, 4], vhost: true,
    help: ['<username>', '\tSelf-explanatory', '<conf>', '\tConfiguration permission pattern', '<write>', '\tWrite permission pattern', '<read>', '\tRead permission pattern'],
    async run(ctx) {
      const [user, configure, write, read] = ctx.args as [string, string, string, string];
      const vhost = ctx.global.vhost;
      ctx.info(`Setting permissions for user "${user}" in vhost "${vhost}" ...`);
      try {
        await ctx.client.put(apiPath('permissions', vhost, user), { configure, write, read });
      } catch (err) {
        // RabbitMQ: 400 vhost_or_user_not_found; tell which, in rabbitmqctl's words
        if (!httpStatus(err, 400, 404)) throw err;
        await explainMissing(ctx, vhost, user);
        throw err;
      }
    },
  },
  {
    name: 'clear_permissions', group: 'Access Control', summary: 'Revokes user permissions for a vhost', usage: '[--vhost <vhost>] <username>',
    args: [1, 1], vhost: true,
    async run(ctx) {
      const user = ctx.args[0]!;
      const vhost = ctx.global.vhost;
      ctx.info(`Clearing permissions for user "${user}" in vhost "${vhost}" ...`);
      try {
        await ctx.client.delete(apiPath('permissions', vhost, user));
      } catch (err) {
        if (!httpStatus(err, 404)) throw err;
        // no such user or vhost is an error; no permissions to clear is not (as with rabbitmqctl)
        await explainMissing(ctx, vhost, user);
      }
    },
  },
  {
    name: 'export_definitions', group: 'Definitions', summary: 'Exports definitions in JSON', usage: '<file_path | "-">', args: [1, 1],
    help: ['<file>', '\tLocal file path to export to. Pass a dash (-) for stdout.'],
    async run(ctx) {
      const file = ctx.args[0]!;
      if (file !== '-' && !existsSync(dirname(resolve(file)))) throw new CtlError(`Bad argument: Directory ${dirname(file)} does not exist`, EXIT.DATAERR);
      const defs = await ctx.client.get('/api/definitions');
      if (file === '-') return ctx.out(JSON.stringify(defs) + '\n');
      ctx.info(`Exporting definitions in JSON to a file at "${file}" ...`);
      await writeFile(file, JSON.stringify(defs));
    },
  },
  {
    name: 'import_definitions', group: 'Definitions', summary: 'Imports definitions in JSON', usage: '<file_path | "-">', args: [1, 1],
    help: ['<file>', '\tLocal file path to import from. Pass a dash (-) for stdin.'],
    async run(ctx) {
      const file = ctx.args[0]!;
      if (file !== '-' && !existsSync(file)) throw new CtlError(`Bad argument: File ${file} does not exist`, EXIT.DATAERR);
      const text = await ctx.readInput(file);
      let defs: unknown;
      try {
        defs = JSON.parse(text);
      } catch (err) {
        throw new CtlError(`Failed to deserialise input (format: JSON) (error: ${(err as Error).message})`, EXIT.DATAERR);
      }
      ctx.info(file === '-' ? 'Importing definitions in JSON from standard input ...' : `Importing definitions in JSON from a file at "${file}" ...`);
      try {
        await ctx.client.post('/api/definitions', defs);
      } catch (err) {
        if (err instanceof HttpError && err.status === 400) throw new CtlError(`Failed to import definitions: ${err.reason || err.error}`, EXIT.DATAERR);
        throw err;
      }
      ctx.info('Successfully imported definitions.');
    },
  },
];

/** After a refusal naming a vhost or a user: rabbitmqctl's text for whichever does not exist. */
async function explainMissing(ctx: CommandContext, vhost: string, user: string): Promise<void> {
  if (await isMissing(ctx.client, apiPath('users', user))) throw new CtlError(`User ${user} does not exist`, EXIT.NOUSER);
  if (await isMissing(ctx.client, apiPath('vhosts', vhost))) throw new CtlError(`Virtual host ${vhost} does not exist`, EXIT.UNAVAILABLE);
}

/** Every command, by name. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map([...ADMIN_COMMANDS, ...LIST_COMMANDS].map((c) => [c.name, c]));
