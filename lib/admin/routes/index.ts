/** Every route of the management HTTP API, by group (one file each). */
import type { Route } from '../http-api.js';
import { routes as overview } from './overview.js';

export const ALL_ROUTES: readonly Route[] = [...overview];
