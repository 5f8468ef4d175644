/**
 * The server-properties table sent in connection.start. Clients read
 * `product`, `version` and `platform`, and change behaviour on the
 * `capabilities` table (Celery's kombu, for one), so a capability is listed
 * only once warren implements it: add it to CAPABILITIES in the change that
 * makes it true.
 */
import { readFileSync } from 'node:fs';
import type { FieldTable } from '../amqp/field-table.js';

/** What warren implements of RabbitMQ's advertised capabilities. */
export const CAPABILITIES: Readonly<Record<string, boolean>> = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  'basic.nack': true,
  consumer_cancel_notify: true,
  'connection.blocked': true,
  consumer_priorities: true,
  authentication_failure_close: true,
  per_consumer_qos: true,
  direct_reply_to: true,
};

/** package.json sits two folders up from lib/server/, three from dist/lib/server/. */
function packageVersion(): string {
  for (const path of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'warren' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return '0.0.0';
}

export const WARREN_VERSION = packageVersion();

export function serverProperties(clusterName: string): FieldTable {
  return {
    capabilities: { ...CAPABILITIES },
    cluster_name: clusterName,
    copyright: 'Copyright (c) the warren authors',
    information: 'Licensed under the MIT license. See README.md',
    platform: `Node.js ${process.version}`,
    product: 'warren',
    version: WARREN_VERSION,
  };
}
