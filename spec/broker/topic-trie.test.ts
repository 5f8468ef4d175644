// TopicTrie: RabbitMQ topic-exchange matching (split_topic_key, '*' and '#'),
// refcounted add/remove with pruning, and a randomized check against a
// straightforward recursive matcher.
import t from 'tap';
import { TopicTrie } from '../../lib/broker/topic-trie.js';
import { prng as rng } from '../helpers/prng.js';

/** RabbitMQ's split_topic_key: "" is zero words, "a..b" is ["a", "", "b"]. */
function words(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

/** Reference matcher: binding words against routing words, by plain recursion. */
function refMatches(b: string[], r: string[]): boolean {
  if (b.length === 0) return r.length === 0;
  const [head, ...rest] = b;
  if (head === '#') {
    for (let i = 0; i <= r.length; i++) if (refMatches(rest, r.slice(i))) return true;
    return false;
  }
  if (r.length === 0) return false;
  return (head === '*' || head === r[0]) && refMatches(rest, r.slice(1));
}

function matched<D>(trie: TopicTrie<D>, routingKey: string): D[] {
  const out: D[] = [];
  trie.match(routingKey, out);
  return out;
}

/** Bind each key to itself and return the sorted keys that match routingKey. */
function matchingKeys(bindingKeys: string[], routingKey: string): string[] {
  const trie = new TopicTrie<string>();
  for (const k of bindingKeys) trie.add(k, k);
  return matched(trie, routingKey).sort();
}

type Case = [bindingKey: string, routingKey: string, matches: boolean];
const cases: Case[] = [
  // '#' alone matches everything, the empty key included
  ['#', '', true], ['#', 'a', true], ['#', 'a.b.c', true], ['#', '.', true], ['#', '..', true],
  // leading '#'
  ['#.a', 'a', true], ['#.a', 'x.a', true], ['#.a', 'x.y.a', true], ['#.a', 'a.x', false], ['#.a', '', false],
  ['#.a', '.a', true],
  // trailing '#'
  ['a.#', 'a', true], ['a.#', 'a.b', true], ['a.#', 'a.b.c', true], ['a.#', 'b', false], ['a.#', '', false],
  ['a.#', 'a.', true], ['a.#', 'ab', false],
  // '#' in the middle
  ['a.#.b', 'a.b', true], ['a.#.b', 'a.x.b', true], ['a.#.b', 'a.x.y.b', true], ['a.#.b', 'a.b.c', false],
  ['a.#.b', 'a', false], ['a.#.b', 'b', false], ['a.#.b', 'a..b', true], ['a.#.b', 'a.b.b', true],
  // several '#'
  ['#.#', '', true], ['#.#', 'a', true], ['#.#', 'a.b.c', true], ['#.a.#', 'a', true], ['#.a.#', 'x.a.y', true],
  ['#.a.#', 'x.y', false], ['a.#.#.b', 'a.b', true], ['a.#.#.b', 'a.x.y.z.b', true], ['#.#.#', '', true],
  ['#.a.#.b.#', 'b.a', false], ['#.a.#.b.#', 'x.a.y.b.z', true], ['#.a.#.b.#', 'a.b', true],
  // '*' is exactly one word
  ['*', 'a', true], ['*', '', false], ['*', 'a.b', false], ['*', '.', false],
  ['a.*', 'a', false], ['a.*', 'a.b', true], ['a.*', 'a.b.c', false], ['a.*', 'a.', true],
  ['*.a', 'a', false], ['*.a', 'x.a', true], ['*.a', '.a', true],
  ['*.*', 'a.b', true], ['*.*', 'a', false], ['*.*', '.', true], ['*.*', 'a.b.c', false],
  ['a.*.b', 'a..b', true], ['a.*.b', 'a.x.b', true], ['a.*.b', 'a.b', false],
  // '*' and '#' together
  ['*.#', '', false], ['*.#', 'a', true], ['*.#', 'a.b.c', true], ['#.*', '', false], ['#.*', 'a', true],
  ['#.*', 'a.b.c', true], ['*.#.*', 'a', false], ['*.#.*', 'a.b', true], ['*.#.*', 'a.b.c.d', true],
  ['#.*.#', '', false], ['#.*.#', 'a.b', true], ['*.*.#', 'a', false], ['*.*.#', 'a.b', true],
  // empty words and keys of only dots
  ['', '', true], ['', 'a', false], ['', '.', false], ['.', '.', true], ['.', '', false], ['.', 'a', false],
  ['..', '..', true], ['..', '.', false], ['a.', 'a.', true], ['a.', 'a', false], ['.a', '.a', true],
  ['a..b', 'a..b', true], ['a..b', 'a.b', false], ['*.', '.', true], ['*.', 'a.', true], ['.*', '.', true],
  // literal words; '*' and '#' inside a word are not wildcards; routing words are always literal
  ['a.b', 'a.b', true], ['a.b', 'a.c', false], ['a.b', 'a.b.c', false], ['a#', 'ab', false], ['a#', 'a#', true],
  ['*b', 'ab', false], ['*b', '*b', true], ['a.b', 'a.*', false], ['a.*', 'a.*', true], ['a.#', 'a.#', true],
  ['a.b.c', 'a.#', false], ['#', '#', true], ['*', '*', true], ['*', '#', true],
];

t.test('binding key against routing key, one binding at a time', async (t) => {
  for (const [bindingKey, routingKey, expected] of cases) {
    t.equal(refMatches(words(bindingKey), words(routingKey)), expected, `reference: "${bindingKey}" ~ "${routingKey}"`);
    t.same(matchingKeys([bindingKey], routingKey), expected ? [bindingKey] : [], `trie: "${bindingKey}" ~ "${routingKey}"`);
  }
});

t.test('all the bindings of the table in one trie', async (t) => {
  const keys = [...new Set(cases.map(([b]) => b))];
  const routingKeys = [...new Set(cases.map(([, r]) => r))];
  for (const rk of routingKeys) {
    const expected = keys.filter((b) => refMatches(words(b), words(rk))).sort();
    t.same(matchingKeys(keys, rk), expected, `"${rk}"`);
  }
});

t.test('several destinations, several keys', async (t) => {
  const trie = new TopicTrie<string>();
  trie.add('stock.#', 'all-stock');
  trie.add('stock.*.nyse', 'nyse');
  trie.add('stock.usd.*', 'usd');
  trie.add('#.nyse', 'nyse');
  trie.add('stock.usd.nyse', 'exact');
  t.same(matched(trie, 'stock.usd.nyse').sort(), ['all-stock', 'exact', 'nyse', 'nyse', 'usd'],
    'a destination bound by two matching keys is reported once per key');
  t.same(matched(trie, 'stock.eur.nyse').sort(), ['all-stock', 'nyse', 'nyse']);
  t.same(matched(trie, 'bond.nyse'), ['nyse']);
  t.same(matched(trie, 'stock'), ['all-stock']);
  t.same(matched(trie, 'bond'), []);
  const out = ['already there'];
  trie.match('stock', out);
  t.same(out, ['already there', 'all-stock'], 'match appends to out');
});

t.test('a node reached by several routes is reported once', async (t) => {
  const trie = new TopicTrie<string>();
  for (const k of ['#.#', '#.#.#', '#.*.#', '#.a.#', '*.#.*', '#']) trie.add(k, k);
  for (const rk of ['', 'a', 'a.a', 'a.b.a.b.a', 'a.a.a.a.a.a.a.a']) {
    const out = matched(trie, rk);
    t.equal(new Set(out).size, out.length, `no duplicates for "${rk}": ${out.join(' ')}`);
    t.same(out.sort(), ['#.#', '#.#.#', '#.*.#', '#.a.#', '*.#.*', '#'].filter((k) => refMatches(words(k), words(rk))).sort());
  }
});

t.test('many nested # against a long key stays fast', async (t) => {
  const trie = new TopicTrie<number>();
  trie.add('#.#.#.#.#.#.#.#.#.#.z', 1);
  trie.add('#.#.#.#.#.#.#.#.#.#.#', 2);
  const long = Array.from({ length: 120 }, (_, i) => `w${i % 7}`).join('.');
  const started = process.hrtime.bigint();
  t.same(matched(trie, long), [2]);
  t.same(matched(trie, `${long}.z`).sort(), [1, 2]);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.ok(ms < 1000, `took ${ms.toFixed(1)} ms`);
});

/** Number of trie nodes, root included (reads the private root). */
function nodeCount(trie: TopicTrie<unknown>): number {
  interface N { children?: Map<string, N>; star?: N; hash?: N }
  const count = (n: N | undefined): number => {
    if (n === undefined) return 0;
    let c = 1 + count(n.star) + count(n.hash);
    for (const child of n.children?.values() ?? []) c += count(child);
    return c;
  };
  return count((trie as unknown as { root: N }).root);
}

t.test('add and remove are refcounted', async (t) => {
  const trie = new TopicTrie<string>();
  t.equal(trie.add('a.b', 'q'), true, 'first add is new');
  t.equal(trie.add('a.b', 'q'), false, 'second add of the same pair is not');
  t.equal(trie.size, 1, 'one distinct pair');
  t.equal(trie.add('a.b', 'r'), true, 'same key, other destination');
  t.equal(trie.add('a.*', 'q'), true, 'same destination, other key');
  t.equal(trie.size, 3);
  t.equal(trie.remove('a.b', 'q'), false, 'one reference left');
  t.same(matched(trie, 'a.b').sort(), ['q', 'q', 'r'], 'still bound');
  t.equal(trie.remove('a.b', 'q'), true, 'last reference gone');
  t.same(matched(trie, 'a.b').sort(), ['q', 'r']);
  t.equal(trie.size, 2);
  t.equal(trie.remove('a.b', 'q'), false, 'removing an absent pair');
  t.equal(trie.remove('a.c', 'q'), false, 'absent key');
  t.equal(trie.remove('a.b.c', 'r'), false, 'absent longer key');
  t.equal(trie.remove('a', 'r'), false, 'prefix of a key that has no binding');
  t.equal(trie.size, 2, 'absent removes change nothing');
  t.same(matched(trie, 'a.b').sort(), ['q', 'r']);
});

t.test('remove prunes empty nodes and keeps shared ones', async (t) => {
  const trie = new TopicTrie<string>();
  t.equal(nodeCount(trie), 1, 'just the root');
  trie.add('a.b.c', 'q');
  trie.add('a.#', 'q');
  trie.add('*.b', 'q');
  trie.add('', 'root');
  t.equal(nodeCount(trie), 7, 'root, a, a.b, a.b.c, a.#, *, *.b');
  trie.add('a.b.c', 'r');
  t.equal(trie.remove('a.b.c', 'q'), true);
  t.equal(nodeCount(trie), 7, 'a.b.c still holds r');
  t.equal(trie.remove('a.b.c', 'r'), true);
  t.equal(nodeCount(trie), 5, 'a.b and a.b.c pruned, a kept for a.#');
  t.equal(trie.remove('a.#', 'q'), true);
  t.equal(nodeCount(trie), 3, 'a and a.# pruned');
  t.equal(trie.remove('*.b', 'q'), true);
  t.equal(nodeCount(trie), 1);
  t.same(matched(trie, ''), ['root'], 'a binding on the root itself');
  t.equal(trie.remove('', 'root'), true);
  t.equal(trie.size, 0);
  t.same(matched(trie, ''), []);
  trie.add('x.y', 'q');
  t.same(matched(trie, 'x.y'), ['q'], 'usable again after pruning everything');
  t.equal(trie.remove('x', 'q'), false, 'a bare inner node holds no binding');
  t.equal(nodeCount(trie), 3, 'and removing it there prunes nothing');
});

t.test('destinations are compared by identity', async (t) => {
  const a = { name: 'q' };
  const b = { name: 'q' };
  const trie = new TopicTrie<object>();
  t.equal(trie.add('k', a), true);
  t.equal(trie.add('k', b), true);
  t.equal(trie.remove('k', { name: 'q' }), false);
  t.equal(trie.remove('k', a), true);
  t.same(matched(trie, 'k'), [b]);
  t.equal(matched(trie, 'k')[0], b);
});

t.test('randomized against the reference matcher', async (t) => {
  const random = rng(0x5eed);
  const alphabet = ['a', 'b', '', '*', '#'];
  const randomKey = (maxWords: number): string => {
    const n = Math.floor(random() * (maxWords + 1));
    return Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('.');
  };
  let checks = 0;
  let mismatches = 0;
  let matchedAny = 0;
  for (let round = 0; round < 40; round++) {
    const trie = new TopicTrie<string>();
    const bound = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const key = randomKey(5);
      const wasNew = trie.add(key, key);
      if (wasNew !== !bound.has(key)) mismatches++;
      bound.set(key, (bound.get(key) ?? 0) + 1);
      // remove some again, so pruning is exercised while matching
      if (random() < 0.3) {
        const victim = [...bound.keys()][Math.floor(random() * bound.size)];
        const left = bound.get(victim)! - 1;
        if (trie.remove(victim, victim) !== (left === 0)) mismatches++;
        if (left === 0) bound.delete(victim);
        else bound.set(victim, left);
      }
    }
    if (trie.size !== bound.size) mismatches++;
    for (let i = 0; i < 100; i++) {
      const rk = randomKey(6);
      const expected = [...bound.keys()].filter((b) => refMatches(words(b), words(rk))).sort();
      const got = matched(trie, rk).sort();
      checks++;
      if (expected.length > 0) matchedAny++;
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        mismatches++;
        if (mismatches < 10) t.fail(`"${rk}" against [${[...bound.keys()].join(' | ')}]: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
      }
    }
  }
  t.equal(mismatches, 0, `${checks} random matches agree with the reference`);
  t.ok(matchedAny > checks / 4, `the random keys do match something (${matchedAny} of ${checks})`);
});
