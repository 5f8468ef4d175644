/**
 * The states a connection goes through, from the protocol header to the
 * closed socket, and the names RabbitMQ's management API gives them.
 * connection.ts moves through Header, Handshake and Open;
 * connection-close.ts moves to Closing and Closed.
 */

export const enum ConnectionState {
  /** waiting for the 8-byte protocol header */
  Header,
  /** start / tune / open exchange, see handshake.ts */
  Handshake,
  Open,
  /** we sent connection.close and wait for close-ok */
  Closing,
  Closed,
}

/** The state as RabbitMQ's management API names it: starting, running, blocked, closing, closed. */
export function managementStateName(state: ConnectionState, blocked: boolean): string {
  switch (state) {
    case ConnectionState.Header:
    case ConnectionState.Handshake:
      return 'starting';
    case ConnectionState.Open:
      return blocked ? 'blocked' : 'running';
    case ConnectionState.Closing:
      return 'closing';
    default:
      return 'closed';
  }
}
