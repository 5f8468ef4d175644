/**
 * The channels of one connection, and the rules RabbitMQ applies to a frame
 * addressed to a channel before the channel itself sees it:
 *   - channel.open on an open channel: 504 "second 'channel.open' seen";
 *     anything else on a channel that is not open: 504 "expected 'channel.open'";
 *   - channel_max limits how many channels are open at once (not the
 *     channel numbers): one more is 530;
 *   - after the server's channel.close, everything but close / close-ok on
 *     that channel is dropped; after the client's channel.close, what the
 *     client sent behind it in the same read is dropped;
 *   - connection-class methods on a channel: 503 "unimplemented method".
 */
import { channelError, commandInvalid, notAllowed } from '../amqp/amqp-error.js';
import type { AmqpError } from '../amqp/amqp-error.js';
import { Method, encodeChannelClose, encodeChannelCloseOk, encodeChannelOpenOk } from '../amqp/generated/methods.js';
import type { AnyMethod } from '../amqp/generated/methods.js';
import type { Logger } from '../log.js';
import { Channel, ChannelState } from './channel.js';
import type { ChannelHost } from './channel.js';

export interface ChannelTableHost extends ChannelHost {
  readonly logger: Logger;
}

const NO_CHANNEL_ID = Buffer.alloc(0);

export class ChannelTable {
  /** the negotiated channel_max */
  channelMax = 0;
  private readonly host: ChannelTableHost;
  private readonly channels = new Map<number, Channel>();
  private openCount = 0;
  /** a channel the client closed during the read being processed: its further frames are dropped */
  private droppedChannel = -1;

  constructor(host: ChannelTableHost) {
    this.host = host;
  }

  /** Channels open (or closing) now. */
  get count(): number {
    return this.openCount;
  }

  /** The channels, open or closing (for the management HTTP API). */
  list(): Channel[] {
    return [...this.channels.values()];
  }

  /** Called once a read has been processed. */
  endOfRead(): void {
    this.droppedChannel = -1;
  }

  /** A method frame on channel > 0 of an open connection. */
  onMethod(channel: number, m: AnyMethod): void {
    const ch = this.channels.get(channel);
    if (m.id === Method.ChannelOpen) {
      if (ch) throw channelError(`second 'channel.open' seen`).forMethod(m.id);
      return this.open(channel);
    }
    if (!ch) {
      if (channel === this.droppedChannel) return;
      throw channelError(`expected 'channel.open'`).forMethod(m.id);
    }
    if (ch.state === ChannelState.Closing) {
      if (m.id === Method.ChannelCloseOk) this.release(ch);
      else if (m.id === Method.ChannelClose) this.host.sendMethod(channel, encodeChannelCloseOk, {});
      return;
    }
    if ((m.id >>> 16) === 10) throw commandInvalid('unimplemented method').forMethod(m.id);
    ch.content.checkMethodAllowed();
    if (m.id === Method.ChannelClose) {
      this.release(ch);
      this.host.sendMethod(channel, encodeChannelCloseOk, {});
      this.droppedChannel = channel;
      return;
    }
    ch.handleMethod(m);
  }

  /** The open channel a content frame is for; undefined when the frame is to be dropped. */
  forContent(channel: number, firstPartOfFrame: boolean): Channel | undefined {
    const ch = this.channels.get(channel);
    if (!ch) {
      if (firstPartOfFrame && channel !== this.droppedChannel) throw channelError(`expected 'channel.open'`);
      return undefined;
    }
    return ch.state === ChannelState.Open ? ch : undefined;
  }

  /** Close one channel with a soft error; false when it is not open (the error then closes the connection). */
  closeWithError(channel: number, err: AmqpError): boolean {
    const ch = this.channels.get(channel);
    if (!ch || ch.state !== ChannelState.Open) return false;
    ch.teardown();
    ch.state = ChannelState.Closing;
    this.host.logger.debug({ channel, code: err.code }, 'channel error: %s', err.message);
    this.host.sendMethod(channel, encodeChannelClose, {
      replyCode: err.code,
      replyText: err.replyText,
      classId: err.classId,
      methodId: err.methodId,
    });
    return true;
  }

  /** The socket drained (or similar): let every channel's consumers take messages again. */
  resumeDeliveries(): void {
    for (const ch of this.channels.values()) ch.resumeDeliveries();
  }

  /** The connection is going: release every channel. */
  clear(): void {
    // all channels stop taking deliveries first, so messages requeued by one are not handed to another
    for (const ch of this.channels.values()) ch.state = ChannelState.Closing;
    for (const ch of this.channels.values()) ch.teardown();
    this.channels.clear();
    this.openCount = 0;
  }

  private open(channel: number): void {
    if (this.openCount >= this.channelMax) {
      // RabbitMQ names no method in this close
      throw notAllowed(`number of channels opened (${this.openCount}) has reached the negotiated channel_max (${this.channelMax})`);
    }
    this.channels.set(channel, new Channel(this.host, channel));
    this.openCount++;
    this.host.sendMethod(channel, encodeChannelOpenOk, { channelId: NO_CHANNEL_ID });
  }

  private release(ch: Channel): void {
    ch.teardown();
    if (this.channels.get(ch.id) === ch) {
      this.channels.delete(ch.id);
      this.openCount--;
    }
  }
}
