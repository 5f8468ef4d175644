/**
 * AMQP exceptions as thrown by method handlers anywhere in the server or
 * broker, and caught by the connection that ran the method:
 *   - ChannelError (soft: 403, 404, 405, 406) closes only that channel;
 *   - ConnectionError (hard: 320, 402, 501-506, 530, 540, 541) closes the connection.
 *
 * The reply text follows RabbitMQ: the constant name, " - ", the explanation
 * (e.g. "NOT_FOUND - no queue 'q' in vhost '/'"). The class and method ids
 * name the method that failed; the connection fills them in when the thrower
 * did not.
 */
import { REPLY_CODE_NAME, ReplyCode } from './generated/constants.js';

export abstract class AmqpError extends Error {
  readonly code: number;
  readonly explanation: string;
  classId: number;
  methodId: number;

  constructor(code: number, explanation: string, classId = 0, methodId = 0) {
    super(`${REPLY_CODE_NAME[code] ?? code} - ${explanation}`);
    this.code = code;
    this.explanation = explanation;
    this.classId = classId;
    this.methodId = methodId;
  }

  /**
   * The reply-text field, a short string: a longer text is cut to 252 bytes
   * followed by "...", as RabbitMQ cuts it.
   */
  get replyText(): string {
    const text = this.message;
    if (Buffer.byteLength(text) <= 255) return text;
    let cut = text.slice(0, 252);
    while (Buffer.byteLength(cut) > 252) cut = cut.slice(0, -1);
    return `${cut}...`;
  }

  /** Fill in the failing method when the thrower did not know it. */
  forMethod(methodIdentifier: number): this {
    if (this.classId === 0 && this.methodId === 0) {
      this.classId = methodIdentifier >>> 16;
      this.methodId = methodIdentifier & 0xffff;
    }
    return this;
  }
}

export class ChannelError extends AmqpError {
  override name = 'ChannelError';
}

export class ConnectionError extends AmqpError {
  override name = 'ConnectionError';
}

// Constructors for the codes in everyday use, so call sites read as the rule they enforce.
export const accessRefused = (text: string): ChannelError => new ChannelError(ReplyCode.AccessRefused, text);
export const notFound = (text: string): ChannelError => new ChannelError(ReplyCode.NotFound, text);
export const resourceLocked = (text: string): ChannelError => new ChannelError(ReplyCode.ResourceLocked, text);
export const preconditionFailed = (text: string): ChannelError => new ChannelError(ReplyCode.PreconditionFailed, text);

export const frameError = (text: string): ConnectionError => new ConnectionError(ReplyCode.FrameError, text);
export const syntaxError = (text: string): ConnectionError => new ConnectionError(ReplyCode.SyntaxError, text);
export const commandInvalid = (text: string): ConnectionError => new ConnectionError(ReplyCode.CommandInvalid, text);
export const channelError = (text: string): ConnectionError => new ConnectionError(ReplyCode.ChannelError, text);
export const unexpectedFrame = (text: string): ConnectionError => new ConnectionError(ReplyCode.UnexpectedFrame, text);
export const notAllowed = (text: string): ConnectionError => new ConnectionError(ReplyCode.NotAllowed, text);
export const notImplemented = (text: string): ConnectionError => new ConnectionError(ReplyCode.NotImplemented, text);
export const internalError = (text: string): ConnectionError => new ConnectionError(ReplyCode.InternalError, text);
