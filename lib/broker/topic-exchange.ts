/** Topic exchange: binding keys with `*` and `#` wildcards, matched through a trie (topic-trie.ts). */
import type { Binding, Destination } from './binding.js';
import { Exchange } from './exchange.js';
import type { Message } from './message.js';
import { TopicTrie } from './topic-trie.js';

export class TopicExchange extends Exchange {
  readonly type = 'topic';
  private readonly trie = new TopicTrie<Destination>();

  route(_message: Message, routingKey: string, out: Destination[]): void {
    this.trie.match(routingKey, out);
  }

  protected onBind(b: Binding): void {
    this.trie.add(b.routingKey, b.destination);
  }

  protected onUnbind(b: Binding): void {
    this.trie.remove(b.routingKey, b.destination);
  }
}
