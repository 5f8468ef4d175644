/**
 * A virtual host: a namespace of exchanges, queues and bindings with its
 * own permissions. For now it holds only its identity; the messaging core
 * adds its exchanges, queues and routing.
 */

export interface VhostMetadata {
  description?: string;
  tags?: string[];
  defaultQueueType?: string;
}

export class VirtualHost {
  readonly name: string;
  metadata: VhostMetadata;

  constructor(name: string, metadata: VhostMetadata = {}) {
    this.name = name;
    this.metadata = metadata;
  }
}
