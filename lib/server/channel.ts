/**
 * One AMQP channel of a connection: its state (open, or closing after a
 * channel exception), content assembly, flow, and the dispatch of the
 * methods a client sends on it.
 *
 * The connection owns the channel table and the rules that apply before a
 * method reaches a channel (channel.open, frames on closing channels); this
 * class handles what happens inside an open channel.
 */
import { notImplemented, commandInvalid } from '../amqp/amqp-error.js';
import { Method, METHOD_INFO, encodeChannelFlowOk } from '../amqp/generated/methods.js';
import type { AnyMethod } from '../amqp/generated/methods.js';
import type { MethodEncoder } from '../amqp/frame-writer.js';
import { ContentAssembler } from './content-assembler.js';
import type { Content } from './content-assembler.js';

/** What a channel needs from its connection. */
export interface ChannelHost {
  sendMethod<A>(channel: number, encode: MethodEncoder<A>, args: A): void;
  readonly maxMessageSize: number;
}

export const enum ChannelState {
  Open,
  /** the server sent channel.close and waits for close-ok; everything else on the channel is dropped */
  Closing,
}

export class Channel {
  readonly id: number;
  state = ChannelState.Open;
  /** false after the client sent channel.flow active=false: deliveries to this channel pause */
  flowActive = true;
  readonly content: ContentAssembler;
  private readonly host: ChannelHost;

  constructor(host: ChannelHost, id: number) {
    this.host = host;
    this.id = id;
    this.content = new ContentAssembler(host.maxMessageSize);
  }

  /** A method the client sent on this open channel (channel.open and channel.close are the connection's). */
  handleMethod(m: AnyMethod): void {
    switch (m.id) {
      case Method.ChannelFlow:
        // RabbitMQ answers active=false with 540; warren honours it (deliveries pause) as the spec intends.
        this.flowActive = m.active;
        this.host.sendMethod(this.id, encodeChannelFlowOk, { active: m.active });
        return;
      case Method.ChannelFlowOk:
        // the client acknowledging a server-sent flow: warren never sends one, so there is nothing to track
        return;
      default: {
        const info = METHOD_INFO.get(m.id)!;
        if (!info.fromClient || m.id === Method.ChannelCloseOk) {
          throw commandInvalid('unimplemented method').forMethod(m.id);
        }
        if (info.hasContent) {
          this.content.startContent(m);
          return;
        }
        throw notImplemented(`${info.name} is not implemented yet`).forMethod(m.id);
      }
    }
  }

  /** A message whose header and body have all arrived. */
  handleContent(c: Content): void {
    const info = METHOD_INFO.get(c.method.id)!;
    throw notImplemented(`${info.name} is not implemented yet`).forMethod(c.method.id);
  }

  /** The channel is going away (closed by either side, or its connection ended): release what it holds. */
  teardown(): void {
    this.content.reset();
  }
}
