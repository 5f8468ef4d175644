/**
 * The connection handshake, after the protocol header:
 *   server: connection.start   -> client: start-ok (SASL PLAIN / AMQPLAIN)
 *   server: connection.tune    -> client: tune-ok  (channel_max, frame_max, heartbeat)
 *   client: connection.open    -> server: open-ok  (vhost and permission check)
 *
 * Failures follow RabbitMQ: a refused login gets connection.close 403 when
 * the client advertised `authentication_failure_close` (else the socket is
 * simply closed); an unknown vhost or a vhost the user may not use gets
 * connection.close 530; any other handshake error closes the socket
 * without a word, as RabbitMQ does before it trusts the peer.
 */
import { ConnectionError, notAllowed } from '../amqp/amqp-error.js';
import { ReplyCode } from '../amqp/generated/constants.js';
import {
  Method,
  encodeConnectionOpenOk,
  encodeConnectionStart,
  encodeConnectionTune,
} from '../amqp/generated/methods.js';
import type { AnyMethod, ConnectionOpen, ConnectionStartOk, ConnectionTuneOk } from '../amqp/generated/methods.js';
import { FRAME_MIN_SIZE } from '../amqp/generated/constants.js';
import { Typed } from '../amqp/field-table.js';
import type { FieldTable, FieldValue } from '../amqp/field-table.js';
import { SASL_MECHANISMS, parseSaslResponse } from '../auth/sasl.js';
import type { Connection } from './connection.js';

export const enum HandshakeStep {
  StartOk,
  TuneOk,
  Open,
}

export function sendStart(conn: Connection): void {
  conn.sendMethod(0, encodeConnectionStart, {
    versionMajor: 0,
    versionMinor: 9,
    serverProperties: conn.broker.serverProperties,
    mechanisms: Buffer.from(SASL_MECHANISMS.join(' ')),
    locales: Buffer.from('en_US'),
  });
}

/** Handle a method on channel 0 before the connection is open. */
export function handleHandshakeMethod(conn: Connection, step: HandshakeStep, m: AnyMethod): void {
  if (step === HandshakeStep.StartOk && m.id === Method.ConnectionStartOk) return onStartOk(conn, m);
  if (step === HandshakeStep.TuneOk && m.id === Method.ConnectionTuneOk) return onTuneOk(conn, m);
  if (step === HandshakeStep.Open && m.id === Method.ConnectionOpen) return onOpen(conn, m);
  conn.dropHandshake(`unexpected method ${m.id >>> 16}.${m.id & 0xffff} during the handshake`);
}

function onStartOk(conn: Connection, m: ConnectionStartOk): void {
  conn.clientProperties = m.clientProperties;
  conn.authFailureClose = capability(m.clientProperties, 'authentication_failure_close');
  conn.consumerCancelNotify = capability(m.clientProperties, 'consumer_cancel_notify');
  conn.blockedNotify = capability(m.clientProperties, 'connection.blocked');
  const mechanism = m.mechanism;
  if (!SASL_MECHANISMS.includes(mechanism)) {
    conn.dropHandshake(`unknown authentication mechanism '${mechanism}'`);
    return;
  }
  conn.authMechanism = mechanism;
  const parsed = parseSaslResponse(mechanism, m.response);
  if (!parsed.ok) {
    // RabbitMQ: a response the mechanism cannot parse is a syntax error, not a refused login.
    conn.dropHandshake(`${mechanism} response invalid: ${parsed.reason}`);
    return;
  }
  const { username, password } = parsed.credentials;
  const auth = conn.broker.authenticate(username, password, conn.remoteAddress);
  if (!auth.ok) {
    refuseLogin(conn, mechanism, username, auth.reason);
    return;
  }
  conn.user = auth.user;
  const cfg = conn.broker.config;
  conn.sendMethod(0, encodeConnectionTune, {
    channelMax: cfg.channelMax,
    frameMax: cfg.frameMax,
    heartbeat: cfg.heartbeat,
  });
  conn.handshakeStep = HandshakeStep.TuneOk;
}

function onTuneOk(conn: Connection, m: ConnectionTuneOk): void {
  const cfg = conn.broker.config;
  // RabbitMQ (rabbit_reader, validate_negotiated_integer_value): 0 or a value above
  // the server's is refused, as is a frame_max under the spec's minimum.
  if (m.frameMax === 0 || m.frameMax > cfg.frameMax) {
    conn.dropHandshake(`negotiated frame_max = ${m.frameMax} is higher than the maximum allowed value (${cfg.frameMax})`);
    return;
  }
  if (m.frameMax < FRAME_MIN_SIZE) {
    conn.dropHandshake(`negotiated frame_max = ${m.frameMax} is lower than the minimum allowed value (${FRAME_MIN_SIZE})`);
    return;
  }
  if (m.channelMax === 0 || m.channelMax > cfg.channelMax) {
    conn.dropHandshake(`negotiated channel_max = ${m.channelMax} is higher than the maximum allowed value (${cfg.channelMax})`);
    return;
  }
  conn.tuned(m.channelMax, m.frameMax, m.heartbeat);
  conn.handshakeStep = HandshakeStep.Open;
}

function onOpen(conn: Connection, m: ConnectionOpen): void {
  const user = conn.user!;
  const vhost = m.virtualHost;
  const access = conn.broker.vhostAccess(user.name, vhost);
  if (access === 'no-vhost') throw notAllowed(`vhost ${vhost} not found`).forMethod(Method.ConnectionOpen);
  if (access === 'refused') {
    throw notAllowed(`access to vhost '${vhost}' refused for user '${user.name}'`).forMethod(Method.ConnectionOpen);
  }
  conn.sendMethod(0, encodeConnectionOpenOk, {});
  conn.opened(vhost);
}

/**
 * A login failed. Clients that advertised authentication_failure_close get
 * connection.close 403 and the socket closed without waiting for close-ok (as
 * RabbitMQ does); the rest get the silent close. Either way the reason goes
 * to the log only.
 */
function refuseLogin(conn: Connection, mechanism: string, username: string, reason: string): void {
  conn.logger.warn({ user: username, mechanism }, 'login refused: %s', reason);
  if (conn.authFailureClose) {
    conn.closeNow(new ConnectionError(ReplyCode.AccessRefused, `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`));
  } else {
    conn.dropHandshake(`login refused: ${reason}`);
  }
}

/** A client capability flag from client-properties.capabilities. */
function capability(props: FieldTable, name: string): boolean {
  const caps: FieldValue | undefined = props['capabilities'];
  if (!caps || typeof caps !== 'object' || Array.isArray(caps) || Buffer.isBuffer(caps) || caps instanceof Date || caps instanceof Typed) {
    return false;
  }
  return (caps as FieldTable)[name] === true;
}

