/**
 * Definitions export and import (administrator only, as RabbitMQ):
 * GET / POST /api/definitions and GET / POST /api/definitions/{vhost}, in
 * RabbitMQ's JSON format, so `rabbitmqadmin export / import`, a RabbitMQ
 * export and warren's own export move between the two brokers.
 *
 * As RabbitMQ 3.10.8 (compared against a scratch node):
 *  - GET /api/definitions: rabbit_version, rabbitmq_version, product_name,
 *    product_version, users, vhosts, permissions, topic_permissions,
 *    parameters, global_parameters, policies, queues, exchanges, bindings;
 *  - GET /api/definitions/{vhost}: rabbit_version, parameters, policies,
 *    queues, exchanges, bindings, the entries without their "vhost"; an
 *    unknown vhost is 400 "vhost_not_found" (RabbitMQ's answer);
 *  - POST: 204 when everything was imported; a failure is 400 with
 *    RabbitMQ's reason term where it has one (["no_such_vhost", v],
 *    ["no_such_user", u], ["amqp_error", "precondition_failed", text,
 *    "none"]...) and then nothing at all was changed (RabbitMQ may have
 *    applied the entries before the failing one);
 *  - POST /api/definitions/{vhost} imports queues, exchanges and bindings
 *    into that vhost whatever "vhost" they name; an unknown vhost is 404
 *    {"error": "not_found", "reason": "vhost_not_found"}.
 * Warren's own: entries warren does not support (policies, parameters,
 * topic permissions, user and vhost limits, quorum and stream queues,
 * exchange types it does not know...) are skipped; each is logged, and the
 * answer is then 200 {"skipped": [{kind, vhost, name, reason}...]} instead
 * of 204 (RabbitMQ's tools accept any 2xx). Warren's export lists durable
 * entities only (RabbitMQ's also lists transient non-exclusive queues), and
 * vhosts with their description, tags and default_queue_type (3.10 exports
 * only their names; it imports the extra fields without complaint).
 * The definitions are on disk before the answer is sent.
 */
import { DefinitionsError } from '../../store/definitions-store.js';
import type { Definitions } from '../../store/definitions-store.js';
import { ImportError } from '../../broker/definitions-import.js';
import type { SkippedEntry } from '../../broker/definitions-import.js';
import { ApiError, ApiResponse, badRequest, noContent } from '../http-api.js';
import type { ApiRequest, Route } from '../http-api.js';

const ORDER: readonly (keyof Definitions)[] = [
  'rabbit_version', 'rabbitmq_version', 'product_name', 'product_version', 'users', 'vhosts', 'permissions',
  'topic_permissions', 'parameters', 'global_parameters', 'policies', 'queues', 'exchanges', 'bindings',
];

/** The whole broker, keys in RabbitMQ's order. */
function exportAll(req: ApiRequest): unknown {
  const defs = req.ctx.broker.definitions();
  return Object.fromEntries(ORDER.filter((k) => defs[k] !== undefined).map((k) => [k, defs[k]]));
}

function withoutVhost(list: unknown[], vhost: string): unknown[] {
  return list
    .filter((e) => (e as { vhost?: unknown }).vhost === vhost)
    .map((e) => {
      const { vhost: _omitted, ...rest } = e as Record<string, unknown>;
      return rest;
    });
}

function exportVhost(req: ApiRequest): unknown {
  const vhost = req.params.vhost!;
  if (!req.ctx.broker.vhosts.has(vhost)) throw badRequest('vhost_not_found');
  const defs = req.ctx.broker.definitions();
  return {
    rabbit_version: defs.rabbit_version,
    parameters: withoutVhost(defs.parameters, vhost),
    policies: withoutVhost(defs.policies, vhost),
    queues: withoutVhost(defs.queues, vhost),
    exchanges: withoutVhost(defs.exchanges, vhost),
    bindings: withoutVhost(defs.bindings, vhost),
  };
}

async function importBody(req: ApiRequest, vhost?: string): Promise<unknown> {
  const { broker } = req.ctx;
  let skipped: SkippedEntry[];
  try {
    skipped = broker.importDefinitions(req.body, { source: 'request body', ...(vhost !== undefined ? { vhost } : {}) });
  } catch (err) {
    if (err instanceof ImportError) throw badRequest(err.reason);
    if (err instanceof DefinitionsError) throw badRequest(err.message);
    throw err;
  }
  await broker.definitionsSaved();
  return skipped.length === 0 ? noContent() : new ApiResponse(200, { skipped });
}

function importVhost(req: ApiRequest): Promise<unknown> {
  const vhost = req.params.vhost!;
  if (!req.ctx.broker.vhosts.has(vhost)) throw new ApiError(404, 'not_found', 'vhost_not_found');
  return importBody(req, vhost);
}

export const routes: Route[] = [
  { method: 'GET', path: '/api/definitions', tag: 'administrator', handler: exportAll },
  { method: 'POST', path: '/api/definitions', tag: 'administrator', handler: (req) => importBody(req) },
  { method: 'GET', path: '/api/definitions/:vhost', tag: 'administrator', handler: exportVhost },
  { method: 'POST', path: '/api/definitions/:vhost', tag: 'administrator', handler: importVhost },
];
