// Reply texts RabbitMQ 3.10 sends, as conformance scenarios expect them.

export const notFoundQueue = (q: string): string => `NOT_FOUND - no queue '${q}' in vhost '/'`;
export const notFoundExchange = (x: string): string => `NOT_FOUND - no exchange '${x}' in vhost '/'`;
/** RabbitMQ cuts a reply text longer than a short string (255) to 252 characters and '...'. */
export const shortstr = (s: string): string => (s.length > 255 ? `${s.slice(0, 252)}...` : s);
export const locked = (q: string): string =>
  shortstr(`RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`);
