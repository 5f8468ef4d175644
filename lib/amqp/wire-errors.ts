/**
 * Errors raised by the wire codec. The connection maps them to AMQP
 * connection exceptions (see lib/server/), so a malformed frame never
 * becomes an uncaught exception.
 */

/** A payload ended early, or held a value the grammar does not allow. */
export class WireDecodeError extends Error {
  override name = 'WireDecodeError';
}

/** A value cannot be encoded (a short string over 255 bytes, an unknown type letter). */
export class WireEncodeError extends Error {
  override name = 'WireEncodeError';
}
