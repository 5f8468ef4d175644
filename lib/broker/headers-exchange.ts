/**
 * Headers exchange: each binding's arguments are compiled once into a
 * matcher (headers-match.ts: x-match all / any / all-with-x / any-with-x);
 * routing evaluates them against the message's headers.
 */
import type { FieldTable } from '../amqp/field-table.js';
import type { Binding, Destination } from './binding.js';
import { Exchange } from './exchange.js';
import { compileHeadersBinding, headersMatch } from './headers-match.js';
import type { HeadersBinding } from './headers-match.js';
import type { Message } from './message.js';

interface CompiledBinding {
  binding: Binding;
  matcher: HeadersBinding;
}

export class HeadersExchange extends Exchange {
  readonly type = 'headers';
  private compiled: CompiledBinding[] = [];

  route(message: Message, _routingKey: string, out: Destination[]): void {
    if (this.compiled.length === 0) return;
    const headers = message.headers;
    for (const c of this.compiled) if (headersMatch(c.matcher, headers)) out.push(c.binding.destination);
  }

  override validateBinding(args: FieldTable): string | null {
    const r = compileHeadersBinding(args);
    return 'error' in r ? r.error : null;
  }

  protected onBind(b: Binding): void {
    const r = compileHeadersBinding(b.arguments);
    if ('error' in r) return; // validateBinding refused it before it got here
    this.compiled.push({ binding: b, matcher: r });
  }

  protected onUnbind(b: Binding): void {
    this.compiled = this.compiled.filter((c) => c.binding !== b);
  }
}
