/**
 * Content assembly for one channel: a content-carrying method (basic.publish)
 * must be followed by exactly one content header frame and then body frames
 * totalling the size the header announced. Anything else is 505
 * UNEXPECTED_FRAME, with RabbitMQ's reply texts (rabbit_command_assembler).
 *
 * The body is kept as the list of slices it arrived in (see FrameReader):
 * nothing is copied, and one-part bodies need no concatenation at all.
 */
import { preconditionFailed, unexpectedFrame } from '../amqp/amqp-error.js';
import { HEADER_PREFIX_SIZE, readHeaderPrefix } from '../amqp/content-header.js';
import type { AnyMethod } from '../amqp/generated/methods.js';

/** A complete message as published: method, header fields, raw properties, body. */
export interface Content {
  method: AnyMethod;
  classId: number;
  bodySize: number;
  /** property flags and properties, exactly as received */
  properties: Buffer;
  /** body slices in order, totalling bodySize bytes */
  body: Buffer[];
}

const enum Expect {
  Method,
  Header,
  Body,
}

export class ContentAssembler {
  private expect = Expect.Method;
  private method: AnyMethod | null = null;
  private classId = 0;
  private bodySize = 0;
  private remaining = 0;
  private properties: Buffer | null = null;
  private parts: Buffer[] = [];
  private readonly maxMessageSize: number;

  constructor(maxMessageSize: number) {
    this.maxMessageSize = maxMessageSize;
  }

  /** True while a content method waits for its header or body. */
  get busy(): boolean {
    return this.expect !== Expect.Method;
  }

  /** Called before dispatching any method frame on the channel. */
  checkMethodAllowed(): void {
    if (this.expect === Expect.Header) {
      throw this.withMethod(unexpectedFrame(`expected content header for class ${this.classId}, got non content header frame instead`));
    }
    if (this.expect === Expect.Body) {
      throw this.withMethod(unexpectedFrame('expected content body, got non content body frame instead'));
    }
  }

  /** A content-carrying method arrived: its header must come next. */
  startContent(method: AnyMethod): void {
    this.method = method;
    this.classId = method.id >>> 16;
    this.expect = Expect.Header;
  }

  /** A header frame; returns the finished content when the body is empty. */
  onHeader(buf: Buffer, start: number, end: number): Content | null {
    if (this.expect !== Expect.Header) {
      if (this.expect === Expect.Body) throw this.withMethod(unexpectedFrame('expected content body, got non content body frame instead'));
      throw unexpectedFrame('expected method frame, got non method frame instead');
    }
    const prefix = readHeaderPrefix(buf, start, end);
    if (prefix.classId !== this.classId) {
      throw this.withMethod(unexpectedFrame(`expected content header for class ${this.classId}, got one for class ${prefix.classId} instead`));
    }
    if (prefix.weight !== 0) {
      throw this.withMethod(unexpectedFrame(`expected content header for class ${this.classId}, got non content header frame instead`));
    }
    if (prefix.bodySize > this.maxMessageSize) {
      const err = this.withMethod(preconditionFailed(`message size ${prefix.bodySize} is larger than configured max size ${this.maxMessageSize}`));
      this.reset();
      throw err;
    }
    this.properties = buf.subarray(start + HEADER_PREFIX_SIZE, end);
    this.bodySize = prefix.bodySize;
    this.remaining = prefix.bodySize;
    if (this.remaining === 0) return this.finish();
    this.expect = Expect.Body;
    return null;
  }

  /** Part of a body frame; returns the finished content once the last byte arrived. */
  onBody(part: Buffer, frameSize: number, first: boolean): Content | null {
    if (first) {
      if (this.expect === Expect.Method) throw unexpectedFrame('expected method frame, got non method frame instead');
      if (this.expect === Expect.Header) {
        throw this.withMethod(unexpectedFrame(`expected content header for class ${this.classId}, got non content header frame instead`));
      }
      if (frameSize > this.remaining) {
        // A body longer than its header announced. RabbitMQ notices only at the
        // next frame, with this text; warren refuses the overflowing frame itself.
        throw this.withMethod(unexpectedFrame('expected content body, got non content body frame instead'));
      }
    }
    if (part.length > 0) {
      this.parts.push(part);
      this.remaining -= part.length;
    }
    return this.remaining === 0 ? this.finish() : null;
  }

  /** Forget a partly assembled message (channel closing). */
  reset(): void {
    this.expect = Expect.Method;
    this.method = null;
    this.properties = null;
    this.parts = [];
  }

  private finish(): Content {
    const content: Content = {
      method: this.method!,
      classId: this.classId,
      bodySize: this.bodySize,
      properties: this.properties!,
      body: this.parts,
    };
    this.method = null;
    this.properties = null;
    this.parts = [];
    this.expect = Expect.Method;
    return content;
  }

  private withMethod<E extends { forMethod(id: number): E }>(err: E): E {
    return this.method ? err.forMethod(this.method.id) : err;
  }
}
