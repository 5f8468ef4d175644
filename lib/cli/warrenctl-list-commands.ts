/**
 * warrenctl's commands for queues, exchanges, bindings, connections,
 * channels and consumers, with rabbitmqctl 3.10's names, columns and texts:
 *
 *   list_queues       GET /api/queues/{vhost}
 *   list_exchanges    GET /api/exchanges/{vhost}
 *   list_bindings     GET /api/bindings/{vhost}
 *   list_connections  GET /api/connections          (every vhost, as rabbitmqctl)
 *   list_channels     GET /api/channels
 *   list_consumers    GET /api/consumers/{vhost}
 *   close_connection  DELETE /api/connections/{name}, the explanation in X-Reason
 *   purge_queue       DELETE /api/queues/{vhost}/{name}/contents
 *   delete_queue      GET then DELETE /api/queues/{vhost}/{name}[?if-empty=true&if-unused=true]
 *
 * Column names are rabbitmqctl's; most are the API's field names, the rest
 * are mapped below. The HTTP API has no Erlang pids: the "pid" columns show
 * the connection's or channel's name, which is what close_connection takes.
 * A vhost-scoped listing of a vhost that does not exist is empty, as with
 * rabbitmqctl.
 */
import { apiPath, HttpError } from './http-client.js';
import { CtlError, EXIT, getList, httpStatus, isMissing } from './warrenctl-core.js';
import type { Command, CommandContext } from './warrenctl-core.js';
import { project } from './warrenctl-format.js';
import type { ColumnSet, Getter, Row } from './warrenctl-format.js';

/** Columns read from the API field of the same name, except those mapped. */
function columns(names: readonly string[], mapped: Record<string, Getter> = {}): ColumnSet {
  const set: Record<string, Getter> = {};
  for (const n of names) set[n] = mapped[n] ?? n;
  return set;
}

const nodeList = (field: string) => (q: Row): unknown => q[field] ?? (q.node === undefined ? undefined : [q.node]);

export const QUEUE_COLUMNS = columns(
  [
    'arguments', 'auto_delete', 'consumer_capacity', 'consumer_utilisation', 'consumers', 'disk_reads', 'disk_writes', 'durable',
    'exclusive', 'exclusive_consumer_pid', 'exclusive_consumer_tag', 'head_message_timestamp', 'leader', 'members', 'memory',
    'message_bytes', 'message_bytes_persistent', 'message_bytes_ram', 'message_bytes_ready', 'message_bytes_unacknowledged',
    'messages', 'messages_persistent', 'messages_ram', 'messages_ready', 'messages_ready_ram', 'messages_unacknowledged',
    'messages_unacknowledged_ram', 'name', 'online', 'owner_pid', 'pid', 'policy', 'slave_pids', 'state',
    'synchronised_slave_pids', 'type',
  ],
  {
    disk_reads: 'backing_queue_status.disk_reads',
    disk_writes: 'backing_queue_status.disk_writes',
    exclusive_consumer_pid: 'exclusive_consumer_details.channel_details.name',
    leader: (q) => q.leader ?? q.node,
    members: nodeList('members'),
    online: nodeList('online'),
    owner_pid: 'owner_pid_details.name',
    slave_pids: 'slave_nodes',
    synchronised_slave_pids: 'synchronised_slave_nodes',
  },
);

export const EXCHANGE_COLUMNS = columns(['arguments', 'auto_delete', 'durable', 'internal', 'name', 'policy', 'type']);

export const BINDING_COLUMNS = columns(['arguments', 'destination_kind', 'destination_name', 'routing_key', 'source_kind', 'source_name'], {
  destination_kind: 'destination_type',
  destination_name: 'destination',
  source_kind: () => 'exchange',
  source_name: 'source',
});

export const CONNECTION_COLUMNS = columns(
  [
    'auth_mechanism', 'channel_max', 'channels', 'client_properties', 'connected_at', 'frame_max', 'host', 'name',
    'peer_cert_issuer', 'peer_cert_subject', 'peer_cert_validity', 'peer_host', 'peer_port', 'pid', 'port', 'protocol',
    'recv_cnt', 'recv_oct', 'send_cnt', 'send_oct', 'send_pend', 'ssl', 'ssl_cipher', 'ssl_hash', 'ssl_key_exchange',
    'ssl_protocol', 'state', 'timeout', 'user', 'vhost',
  ],
  { pid: 'name' },
);

export const CHANNEL_COLUMNS = columns(
  [
    'acks_uncommitted', 'confirm', 'connection', 'consumer_count', 'global_prefetch_count', 'messages_unacknowledged',
    'messages_uncommitted', 'messages_unconfirmed', 'name', 'number', 'pid', 'prefetch_count', 'transactional', 'user', 'vhost',
  ],
  { connection: 'connection_details.name', pid: 'name' },
);

export const CONSUMER_COLUMNS = columns(
  ['ack_required', 'active', 'activity_status', 'arguments', 'channel_pid', 'consumer_tag', 'prefetch_count', 'queue_name'],
  { channel_pid: 'channel_details.name', queue_name: 'queue.name' },
);

/** GET a listing; for a vhost-scoped path, a vhost that does not exist lists nothing. */
async function listing(ctx: CommandContext, path: string, set: ColumnSet, vhost?: string): Promise<void> {
  let items: Row[];
  try {
    items = await getList(ctx.client, path);
  } catch (err) {
    if (vhost === undefined || !httpStatus(err, 404) || !(await isMissing(ctx.client, apiPath('vhosts', vhost)))) throw err;
    // no vhost listing either: the broker lacks these routes, which is not an empty vhost
    if (await isMissing(ctx.client, '/api/vhosts')) throw err;
    items = [];
  }
  ctx.list(ctx.columns, project(items, ctx.columns, set));
}

const queueNotFound = (ctx: CommandContext, queue: string, code: number): CtlError =>
  new CtlError(`Queue '${queue}' in vhost '${ctx.global.vhost}' not found`, code);

/** A header value fetch accepts (latin1): UTF-8 text goes as its bytes. */
const headerValue = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

export const LIST_COMMANDS: Command[] = [
  {
    name: 'list_queues', group: 'Monitoring, observability and health checks', summary: 'Lists queues and their properties',
    usage: '[--vhost <vhost>] [--no-table-headers] [<column>, ...] [--timeout <timeout>]', args: [0, Infinity], vhost: true,
    columns: { set: QUEUE_COLUMNS, defaults: ['name', 'messages'] },
    async run(ctx) {
      const vhost = ctx.global.vhost;
      ctx.info(`Timeout: ${ctx.global.timeoutSeconds.toFixed(1)} seconds ...`);
      ctx.info(`Listing queues for vhost ${vhost} ...`);
      await listing(ctx, apiPath('queues', vhost), QUEUE_COLUMNS, vhost);
    },
  },
  {
    name: 'list_exchanges', group: 'Monitoring, observability and health checks', summary: 'Lists exchanges',
    usage: '[--vhost <vhost>] [--no-table-headers] [<column> ...]', args: [0, Infinity], vhost: true,
    columns: { set: EXCHANGE_COLUMNS, defaults: ['name', 'type'] },
    async run(ctx) {
      const vhost = ctx.global.vhost;
      ctx.info(`Listing exchanges for vhost ${vhost} ...`);
      await listing(ctx, apiPath('exchanges', vhost), EXCHANGE_COLUMNS, vhost);
    },
  },
  {
    name: 'list_bindings', group: 'Monitoring, observability and health checks', summary: 'Lists all bindings on a vhost',
    usage: '[--vhost <vhost>] [--no-table-headers] [<column> ...]', args: [0, Infinity], vhost: true,
    columns: { set: BINDING_COLUMNS, defaults: ['source_name', 'source_kind', 'destination_name', 'destination_kind', 'routing_key', 'arguments'] },
    async run(ctx) {
      const vhost = ctx.global.vhost;
      ctx.info(`Listing bindings for vhost ${vhost}...`);
      await listing(ctx, apiPath('bindings', vhost), BINDING_COLUMNS, vhost);
    },
  },
  {
    name: 'list_connections', group: 'Monitoring, observability and health checks', summary: 'Lists AMQP 0.9.1 connections for the node',
    usage: '[--no-table-headers] [<column> ...]', args: [0, Infinity],
    columns: { set: CONNECTION_COLUMNS, defaults: ['user', 'peer_host', 'peer_port', 'state'] },
    help: ['\tpid is the connection\'s name (the HTTP API has no Erlang pids); close_connection takes it.'],
    async run(ctx) {
      ctx.info('Listing connections ...');
      await listing(ctx, '/api/connections', CONNECTION_COLUMNS);
    },
  },
  {
    name: 'list_channels', group: 'Monitoring, observability and health checks', summary: 'Lists all channels in the node',
    usage: '[--no-table-headers] [<column> ...]', args: [0, Infinity],
    columns: { set: CHANNEL_COLUMNS, defaults: ['pid', 'user', 'consumer_count', 'messages_unacknowledged'] },
    help: ['\tpid is the channel\'s name, connection its connection\'s name (the HTTP API has no Erlang pids).'],
    async run(ctx) {
      ctx.info('Listing channels ...');
      await listing(ctx, '/api/channels', CHANNEL_COLUMNS);
    },
  },
  {
    name: 'list_consumers', group: 'Monitoring, observability and health checks', summary: 'Lists all consumers for a vhost',
    usage: '[--vhost <vhost>] [--no-table-headers] [<column> ...]', args: [0, Infinity], vhost: true,
    columns: { set: CONSUMER_COLUMNS, defaults: ['queue_name', 'channel_pid', 'consumer_tag', 'ack_required', 'prefetch_count', 'active', 'arguments'] },
    help: ['\tchannel_pid is the channel\'s name (the HTTP API has no Erlang pids).'],
    async run(ctx) {
      const vhost = ctx.global.vhost;
      ctx.info(`Listing consumers in vhost ${vhost} ...`);
      await listing(ctx, apiPath('consumers', vhost), CONSUMER_COLUMNS, vhost);
    },
  },
  {
    name: 'close_connection', group: 'Operations', summary: 'Instructs the broker to close a connection',
    usage: '<connection name> <explanation>', args: [2, 2],
    help: ['<connection name>', '\tthe connection\'s name, see list_connections name (or pid)', '<explanation>', '\treason for connection closure'],
    async run(ctx) {
      const [name, why] = ctx.args as [string, string];
      ctx.info(`Closing connection ${name}, reason: ${why}...`);
      try {
        await ctx.client.delete(apiPath('connections', name), { 'x-reason': headerValue(why) });
      } catch (err) {
        if (httpStatus(err, 404)) throw new CtlError(`Connection "${name}" does not exist`, EXIT.UNAVAILABLE);
        throw err;
      }
    },
  },
  {
    name: 'purge_queue', group: 'Queues', summary: 'Purges a queue (removes all messages in it)', usage: '[--vhost <vhost>] <queue>',
    args: [1, 1], vhost: true, help: ['<queue>', '\tName of the queue to purge'],
    async run(ctx) {
      const queue = ctx.args[0]!;
      ctx.info(`Purging queue '${queue}' in vhost '${ctx.global.vhost}' ...`);
      try {
        await ctx.client.delete(apiPath('queues', ctx.global.vhost, queue, 'contents'));
      } catch (err) {
        if (httpStatus(err, 404)) throw queueNotFound(ctx, queue, EXIT.UNAVAILABLE);
        throw err;
      }
    },
  },
  {
    name: 'delete_queue', group: 'Queues', summary: 'Deletes a queue', usage: '[--vhost <vhost>] <queue_name> [--if-empty|-e] [--if-unused|-u]',
    args: [1, 1], vhost: true,
    options: {
      'if-empty': { type: 'boolean', short: 'e', help: 'delete the queue if it is empty (has no messages ready for delivery)' },
      'if-unused': { type: 'boolean', short: 'u', help: 'delete the queue only if it has no consumers' },
    },
    help: ['<queue_name>', '\tname of the queue to delete', '\t(the ready messages reported are the queue\'s messages_ready as the API last reported it)'],
    async run(ctx) {
      const queue = ctx.args[0]!;
      const vhost = ctx.global.vhost;
      const ifEmpty = ctx.opts['if-empty'] === true;
      const ifUnused = ctx.opts['if-unused'] === true;
      const conditions = [ifEmpty ? ' if queue is empty' : '', ifUnused ? ' if queue is unused' : ''].filter((c) => c).join(' and');
      ctx.info(`Deleting queue '${queue}' on vhost '${vhost}'${conditions} ...`);
      const path = apiPath('queues', vhost, queue);
      let ready: unknown;
      try {
        ready = (await ctx.client.get<Row>(path)).messages_ready;
        const query = new URLSearchParams();
        if (ifEmpty) query.set('if-empty', 'true');
        if (ifUnused) query.set('if-unused', 'true');
        await ctx.client.delete(query.size > 0 ? `${path}?${query}` : path);
      } catch (err) {
        if (httpStatus(err, 404)) throw queueNotFound(ctx, queue, EXIT.USAGE);
        if (err instanceof HttpError && err.status === 400) {
          if (/not empty/i.test(err.reason)) throw new CtlError('Queue is not empty', EXIT.USAGE);
          if (/in use/i.test(err.reason)) throw new CtlError('Queue is in use', EXIT.USAGE);
        }
        throw err;
      }
      const n = typeof ready === 'number' ? ready : 0;
      ctx.result(`Queue was successfully deleted with ${n} ready messages`, { message_count: n });
    },
  },
];
