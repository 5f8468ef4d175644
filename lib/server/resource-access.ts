/**
 * A connection's permission checks: the configure / write / read patterns
 * its user has on its vhost, applied to exchanges and queues with
 * RabbitMQ's meaning (rabbit_access_control:check_resource_access): an
 * unanchored match of the resource name, the default exchange checked as
 * "amq.default", a refusal closing the channel with 403 and RabbitMQ's
 * text. Permissions are looked up at each check, so a change made while
 * the connection is open applies to its next operation; a publish checks
 * only when the exchange or the permissions changed since the last one.
 */
import { accessRefused } from '../amqp/amqp-error.js';
import type { PermissionKind, UserRegistry } from '../auth/users.js';
import type { AccessCheck, ResourceKind } from '../broker/vhost-operations.js';

export class ResourceAccess implements AccessCheck {
  private readonly users: UserRegistry;
  readonly username: string;
  readonly vhost: string;
  /** the exchange the last permitted publish went to, and the permissions' version then */
  private publishedTo: string | null = null;
  private publishedAtVersion = -1;

  constructor(users: UserRegistry, username: string, vhost: string) {
    this.users = users;
    this.username = username;
    this.vhost = vhost;
  }

  check(permission: PermissionKind, kind: ResourceKind, name: string): void {
    const resource = kind === 'exchange' && name === '' ? 'amq.default' : name;
    if (!this.users.check(this.username, this.vhost, permission, resource)) {
      throw accessRefused(`access to ${kind} '${resource}' in vhost '${this.vhost}' refused for user '${this.username}'`);
    }
  }

  /** basic.publish needs write on its exchange. */
  publish(exchange: string): void {
    if (exchange === this.publishedTo && this.publishedAtVersion === this.users.version) return;
    this.check('write', 'exchange', exchange);
    this.publishedTo = exchange;
    this.publishedAtVersion = this.users.version;
  }
}
