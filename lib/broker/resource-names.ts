/**
 * How RabbitMQ names things in reply texts ("queue 'q' in vhost '/'") and
 * the names it generates for server-named queues and consumer tags.
 */
import { randomBytes } from 'node:crypto';

export const queueResource = (name: string, vhost: string): string => `queue '${name}' in vhost '${vhost}'`;
export const exchangeResource = (name: string, vhost: string): string => `exchange '${name}' in vhost '${vhost}'`;

/**
 * rabbit_guid:binary/2: the prefix, a dash, and 16 random bytes in
 * unpadded base64url (22 characters): amq.gen-..., amq.ctag-...
 */
export function generatedName(prefix: 'amq.gen' | 'amq.ctag'): string {
  return `${prefix}-${randomBytes(16).toString('base64url')}`;
}
