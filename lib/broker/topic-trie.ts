/**
 * Topic-exchange routing: binding keys held in a trie of words, matched
 * the way RabbitMQ's rabbit_db_topic_exchange walks its trie.
 *
 * This module owns the matching semantics and nothing else (no exchanges,
 * no queues): a key is split on '.', and the empty key is zero words
 * (RabbitMQ's split_topic_key(<<>>) is [], so "a." is ["a", ""] and "" is
 * []). A binding word "*" matches exactly one routing word (an empty word
 * too); "#" matches zero or more words; every other word, including "a#"
 * or "*b", only matches itself. Routing-key words are always literal.
 *
 * Each node has a Map of literal children plus separate `*` and `#`
 * children. match() splits the routing key and walks the trie with plain
 * recursion: at a `#` child it tries the rest of the words from every
 * position i..n (the standard backtracking walk). A per-match generation
 * number stamped on nodes stops a node that several routes reach (`#.#`,
 * `#.*` against a long key...) from reporting its destinations twice, and
 * stops a `#` node from re-running positions it already tried in this
 * match. match() allocates nothing beyond the split.
 */

const NO_WORDS: readonly string[] = [];

class TrieNode<D> {
  /** Literal words; undefined while there are none. */
  children: Map<string, TrieNode<D>> | undefined = undefined;
  star: TrieNode<D> | undefined = undefined;
  hash: TrieNode<D> | undefined = undefined;
  /** Destinations bound here, in binding order, and their reference counts. */
  readonly dests: D[] = [];
  refs: Map<D, number> | undefined = undefined;
  /** Generation of the last match that reported this node. */
  seen = 0;
  /** For a `#` node: the match generation and first position of its last loop. */
  loopGeneration = 0;
  loopFrom = 0;

  isEmpty(): boolean {
    return this.dests.length === 0 && this.children === undefined && this.star === undefined && this.hash === undefined;
  }

  child(word: string): TrieNode<D> | undefined {
    if (word === '*') return this.star;
    if (word === '#') return this.hash;
    return this.children?.get(word);
  }

  addChild(word: string): TrieNode<D> {
    const node = new TrieNode<D>();
    if (word === '*') this.star = node;
    else if (word === '#') this.hash = node;
    else (this.children ??= new Map()).set(word, node);
    return node;
  }

  removeChild(word: string): void {
    if (word === '*') this.star = undefined;
    else if (word === '#') this.hash = undefined;
    else if (this.children !== undefined) {
      this.children.delete(word);
      if (this.children.size === 0) this.children = undefined;
    }
  }
}

function splitKey(key: string): readonly string[] {
  return key === '' ? NO_WORDS : key.split('.');
}

export class TopicTrie<D> {
  private readonly root = new TrieNode<D>();
  private pairs = 0;
  private generation = 0;

  /**
   * Add a binding key -> destination. Refcounted: the same (key, dest) pair
   * added twice needs two removes. Returns true if (key, dest) was not
   * present before.
   */
  add(bindingKey: string, dest: D): boolean {
    let node = this.root;
    for (const word of splitKey(bindingKey)) node = node.child(word) ?? node.addChild(word);
    node.refs ??= new Map();
    const count = node.refs.get(dest);
    if (count !== undefined) {
      node.refs.set(dest, count + 1);
      return false;
    }
    node.refs.set(dest, 1);
    node.dests.push(dest);
    this.pairs++;
    return true;
  }

  /**
   * Remove one reference; returns true if (key, dest) is now gone entirely.
   * Removing an absent pair returns false and changes nothing. Nodes left
   * with no destinations and no children are pruned.
   */
  remove(bindingKey: string, dest: D): boolean {
    const words = splitKey(bindingKey);
    const path: TrieNode<D>[] = [this.root];
    let node = this.root;
    for (const word of words) {
      const next = node.child(word);
      if (next === undefined) return false;
      path.push(next);
      node = next;
    }
    const count = node.refs?.get(dest);
    if (count === undefined) return false;
    if (count > 1) {
      node.refs!.set(dest, count - 1);
      return false;
    }
    node.refs!.delete(dest);
    if (node.refs!.size === 0) node.refs = undefined;
    node.dests.splice(node.dests.indexOf(dest), 1);
    this.pairs--;
    for (let i = words.length; i > 0 && path[i].isEmpty(); i--) path[i - 1].removeChild(words[i - 1]);
    return true;
  }

  /**
   * Push every destination whose binding key matches routingKey onto out.
   * A destination bound by several matching keys may be pushed once per
   * key (the caller deduplicates); one binding key is never reported twice.
   */
  match(routingKey: string, out: D[]): void {
    const generation = ++this.generation;
    this.walk(this.root, splitKey(routingKey), 0, out, generation);
  }

  /** Number of distinct (key, dest) pairs. */
  get size(): number {
    return this.pairs;
  }

  /** Match words[i..] against the binding-key suffixes below node. */
  private walk(node: TrieNode<D>, words: readonly string[], i: number, out: D[], generation: number): void {
    if (i === words.length) {
      if (node.seen !== generation) {
        node.seen = generation;
        const dests = node.dests;
        for (let k = 0; k < dests.length; k++) out.push(dests[k]);
      }
    } else {
      if (node.children !== undefined) {
        const next = node.children.get(words[i]);
        if (next !== undefined) this.walk(next, words, i + 1, out, generation);
      }
      if (node.star !== undefined) this.walk(node.star, words, i + 1, out, generation);
    }
    // '#' swallows zero or more words: go on below it from every position i..n.
    if (node.hash !== undefined) this.walkHash(node.hash, words, i, out, generation);
  }

  /**
   * walk(hash, words, j) for j = from..n, unless a loop over this `#` node
   * in the same match already started at or before `from` (it found all
   * there is to find from those positions; keeps `#.#.#` on long keys cheap).
   */
  private walkHash(hash: TrieNode<D>, words: readonly string[], from: number, out: D[], generation: number): void {
    if (hash.loopGeneration === generation && hash.loopFrom <= from) return;
    hash.loopGeneration = generation;
    hash.loopFrom = from;
    for (let j = from; j <= words.length; j++) this.walk(hash, words, j, out, generation);
  }
}
