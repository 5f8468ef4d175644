/** Every route of the management HTTP API, by group (one file each). */
import type { Route } from '../http-api.js';
import { routes as overview } from './overview.js';
import { routes as queues } from './queues.js';
import { routes as exchanges } from './exchanges.js';
import { routes as bindings } from './bindings.js';
import { routes as vhosts } from './vhosts.js';
import { routes as users } from './users.js';
import { routes as permissions } from './permissions.js';
import { routes as connections } from './connections.js';
import { routes as definitions } from './definitions.js';

export const ALL_ROUTES: readonly Route[] = [
  ...overview,
  ...queues,
  ...exchanges,
  ...bindings,
  ...vhosts,
  ...users,
  ...permissions,
  ...connections,
  ...definitions,
];
