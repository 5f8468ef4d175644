// The README chart of `npm run bench` (bench/lib/bench-chart.ts): the SVG is
// well-formed XML (checked by a small strict parser below, no dependency),
// has one bar per measured ratio in its broker's colour, prints each ratio
// at the end of its bar and "n/a" where there is none, places bars, targets
// and the 1.0x line on a logarithmic axis that covers ratios far below 1 and
// far above 10, escapes the XML special characters of every text and is the
// same string for the same input.
import t from 'tap';
import type { Test } from 'tap';
import { renderChartSvg, type ChartInput } from '../../bench/lib/bench-chart.js';

interface El {
  name: string;
  attrs: Record<string, string>;
  /** the element's own text, unescaped (children's text not included) */
  text: string;
  children: El[];
}

const ENTITY = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g;

function unescape(s: string): string {
  return s.replace(ENTITY, (e) =>
    ({ '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'" })[e] ??
    String.fromCodePoint(e[2] === 'x' ? parseInt(e.slice(3, -1), 16) : parseInt(e.slice(2, -1), 10)));
}

/** Parses the SVG strictly (tags balanced, attributes quoted and unique, no bare & or < or >) and returns its root. */
function parse(t: Test, svg: string): El {
  const problems: string[] = [];
  const check = (ok: unknown, what: string): void => void (ok || problems.push(what));
  const bareAmp = (s: string): boolean => s.replace(ENTITY, '').includes('&');
  const tokens = svg.match(/<[^<>]*>|[^<]+/g) ?? [];
  check(tokens.join('').length === svg.length, 'a < without its >');
  const stack: El[] = [];
  let root: El | undefined;
  for (const tok of tokens) {
    if (tok.startsWith('<?xml')) continue;
    if (!tok.startsWith('<')) {
      check(!bareAmp(tok) && !tok.includes('>'), `text not escaped: ${JSON.stringify(tok)}`);
      if (stack.length) stack[stack.length - 1]!.text += unescape(tok);
      else check(/^\s*$/.test(tok), `text outside the root: ${JSON.stringify(tok)}`);
      continue;
    }
    const close = /^<\/([A-Za-z][\w.:-]*)\s*>$/.exec(tok);
    if (close) {
      const open = stack.pop();
      check(open?.name === close[1], `${tok} closes <${open?.name}>`);
      continue;
    }
    const m = /^<([A-Za-z][\w.:-]*)((?:\s+[A-Za-z_:][\w.:-]*="[^"<]*")*)\s*(\/?)>$/.exec(tok);
    if (!m) {
      check(false, `malformed tag: ${tok}`);
      continue;
    }
    const el: El = { name: m[1]!, attrs: {}, text: '', children: [] };
    for (const a of m[2]!.matchAll(/([A-Za-z_:][\w.:-]*)="([^"]*)"/g)) {
      check(!(a[1]! in el.attrs), `attribute ${a[1]} twice in ${tok}`);
      check(!bareAmp(a[2]!), `attribute not escaped: ${a[2]}`);
      el.attrs[a[1]!] = unescape(a[2]!);
    }
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else {
      check(!root, `a second root: ${tok}`);
      root = el;
    }
    if (!m[3]) stack.push(el);
  }
  check(stack.length === 0, `unclosed: ${stack.map((e) => e.name).join(', ')}`);
  check(root, 'no root element');
  t.same(problems, [], 'well-formed XML');
  return root ?? { name: '', attrs: {}, text: '', children: [] };
}

function all(el: El, pred: (e: El) => boolean, acc: El[] = []): El[] {
  if (pred(el)) acc.push(el);
  for (const c of el.children) all(c, pred, acc);
  return acc;
}
const byClass = (root: El, cls: string): El[] => all(root, (e) => e.attrs.class === cls);
const num = (e: El, a: string): number => Number(e.attrs[a]);

const G = 'garagemq 0.x';
const sample = (): ChartInput => ({
  title: 'warren vs RabbitMQ',
  subtitle: 'medians of 3 rounds; 2 cores; Node 20.20; RabbitMQ 3.10.8; 2026-12-04',
  reference: 'RabbitMQ 3.10.8',
  brokers: ['warren', G],
  rows: [
    { id: 'a', label: '1p/1c 16 B transient (msg/s)', target: 3.5, ratios: { warren: 3.62, [G]: 2.41 } },
    { id: 'b', label: '1p/1c 1 KiB transient (msg/s)', target: 3, ratios: { warren: 2.87, [G]: null } },
    { id: 'f', label: '1,000 connections opened (conn/s)', target: 5, ratios: { warren: 11.8, [G]: 4.3 } },
    { id: 'h', label: 'basic.get polling (msg/s)', ratios: { warren: 1.72, [G]: 0.91 } },
    { id: 'p99', label: 'latency p99', target: 0.8, lowerIsBetter: true, ratios: { warren: 0.58, [G]: null } },
    { id: 'rss', label: 'RSS after 100k queued messages', target: 0.5, lowerIsBetter: true, ratios: { warren: 0.22, [G]: 0.41 } },
  ],
});
const EXPECTED = ['3.62x', '2.41x', '2.87x', '11.8x', '4.30x', '1.72x', '0.91x', '0.58x', '0.22x', '0.41x'];

/** The axis as the chart drew it, from the positions of its tick labels: value -> x. */
function axis(t: Test, root: El): { x: (v: number) => number; ticks: number[] } {
  const ticks = byClass(root, 'tick').map((e) => ({ v: parseFloat(e.text), x: num(e, 'x') }));
  t.ok(ticks.length >= 3, 'at least 3 tick labels');
  for (const tk of ticks) t.match(String(tk.v), /^[125](0*|\.0*[125]?)?$|^0\.0*[125]$/, `tick ${tk.v} on the 1-2-5 sequence`);
  const [a, b] = [ticks[0]!, ticks[ticks.length - 1]!];
  const slope = (b.x - a.x) / (Math.log10(b.v) - Math.log10(a.v));
  for (const tk of ticks) t.ok(Math.abs(a.x + slope * (Math.log10(tk.v) - Math.log10(a.v)) - tk.x) < 0.2, `tick ${tk.v} on a log scale`);
  return { x: (v) => a.x + slope * (Math.log10(v) - Math.log10(a.v)), ticks: ticks.map((tk) => tk.v) };
}

t.test('well-formed SVG 1.1, 900 px wide, title and subtitle, no external resources', async (t) => {
  const svg = renderChartSvg(sample());
  const root = parse(t, svg);
  t.equal(root.name, 'svg');
  t.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  t.equal(root.attrs.version, '1.1');
  t.equal(root.attrs.width, '900');
  t.match(root.attrs['font-family'], /sans-serif$/);
  t.notMatch(svg, /href|url\(|@import|<script|<foreignObject|<style/i);
  const texts = all(root, (e) => e.name === 'text').map((e) => e.text);
  t.ok(texts.includes('warren vs RabbitMQ'), 'title');
  t.ok(texts.includes('medians of 3 rounds; 2 cores; Node 20.20; RabbitMQ 3.10.8; 2026-12-04'), 'subtitle');
  t.ok(texts.includes('1p/1c 16 B transient (msg/s)'), 'row label');
  t.ok(texts.includes('target ≥ 3.5x'), 'a throughput target is a minimum');
  t.ok(texts.includes('target ≤ 0.8x (lower is better)'), 'a latency target is a maximum');
});

t.test('one bar per non-null ratio, one colour per broker, a legend', async (t) => {
  const root = parse(t, renderChartSvg(sample()));
  const bars = byClass(root, 'bar');
  t.equal(bars.length, 10, '12 ratios, 2 of them null');
  t.same(bars.map((b) => b.children[0]?.text), [
    'warren: 3.62x', `${G}: 2.41x`, 'warren: 2.87x', 'warren: 11.8x', `${G}: 4.30x`,
    'warren: 1.72x', `${G}: 0.91x`, 'warren: 0.58x', 'warren: 0.22x', `${G}: 0.41x`,
  ]);
  const fill = (broker: string): Set<string> => new Set(bars.filter((b) => b.children[0]!.text.startsWith(`${broker}:`)).map((b) => b.attrs.fill!));
  t.equal(fill('warren').size, 1);
  t.equal(fill(G).size, 1);
  t.not([...fill('warren')][0], [...fill(G)][0], 'distinct colours');
  t.same(byClass(root, 'swatch').map((s) => s.attrs.fill), [...fill('warren'), ...fill(G)], 'legend swatches in broker order');
  const texts = all(root, (e) => e.name === 'text').map((e) => e.text);
  t.ok(texts.includes('warren') && texts.includes(G), 'legend names the brokers');
});

t.test('each ratio printed at the end of its bar, n/a for a null one', async (t) => {
  const root = parse(t, renderChartSvg(sample()));
  const values = byClass(root, 'value');
  t.same(values.map((v) => v.text), EXPECTED);
  const bars = byClass(root, 'bar');
  values.forEach((v, i) => {
    const b = bars[i]!;
    if (parseFloat(v.text) >= 1) t.ok(num(v, 'x') >= num(b, 'x') + num(b, 'width'), `${v.text} right of its bar`);
    else {
      t.equal(v.attrs['text-anchor'], 'end');
      t.ok(num(v, 'x') <= num(b, 'x'), `${v.text} left of its bar`);
    }
    t.ok(Math.abs(num(v, 'y') - (num(b, 'y') + 11)) < 0.2, `${v.text} level with its bar`);
  });
  t.equal(byClass(root, 'na').length, 2);
  t.same(byClass(root, 'na').map((e) => e.text), ['n/a', 'n/a']);
  // missing, zero, negative, NaN and Infinity cannot go on a log axis either
  const odd = renderChartSvg({ ...sample(), rows: [{ id: 'z', label: 'odd', ratios: { warren: 0 } }, { id: 'y', label: 'odd', ratios: { warren: -1, [G]: NaN } }, { id: 'x', label: 'odd', ratios: { warren: Infinity, [G]: 2 } }] });
  const oddRoot = parse(t, odd);
  t.equal(byClass(oddRoot, 'na').length, 5);
  t.equal(byClass(oddRoot, 'bar').length, 1);
});

t.test('bars, targets and the 1.0x line on a log axis, ratios below 1 and above 10 included', async (t) => {
  const input: ChartInput = {
    ...sample(),
    rows: [
      { id: 'lo', label: 'far below', target: 0.5, lowerIsBetter: true, ratios: { warren: 0.05, [G]: 0.7 } },
      { id: 'hi', label: 'far above', target: 20, ratios: { warren: 25, [G]: 1 } },
    ],
  };
  const root = parse(t, renderChartSvg(input));
  const { x, ticks } = axis(t, root);
  t.ok(Math.min(...ticks) <= 0.05 && Math.max(...ticks) >= 25, `axis ${ticks.join(', ')} covers 0.05 and 25`);
  t.ok(ticks.includes(1) && ticks.includes(10) && ticks.includes(0.1), 'ticks at 0.1x, 1x and 10x');
  t.ok(Math.max(...ticks) <= 100 && Math.min(...ticks) >= 0.01, 'range chosen from the data, not fixed wide');
  const [ref] = byClass(root, 'reference');
  t.ok(ref && Math.abs(num(ref, 'x1') - x(1)) < 0.2, 'the reference line at 1.0x');
  const refLabel = byClass(root, 'reference-label')[0]!;
  t.equal(refLabel.text, 'RabbitMQ 3.10.8 = 1.0x');
  t.ok(Math.abs(num(refLabel, 'x') - x(1)) < 0.2, 'its label above it');
  const bars = byClass(root, 'bar');
  t.equal(bars.length, 4);
  const ends = bars.map((b) => [num(b, 'x'), num(b, 'x') + num(b, 'width')]);
  t.ok(Math.abs(ends[0]![0]! - x(0.05)) < 0.3 && Math.abs(ends[0]![1]! - x(1)) < 0.3, '0.05x: from its value to 1.0x');
  t.ok(Math.abs(ends[1]![0]! - x(0.7)) < 0.3 && Math.abs(ends[1]![1]! - x(1)) < 0.3, '0.7x');
  t.ok(Math.abs(ends[2]![0]! - x(1)) < 0.3 && Math.abs(ends[2]![1]! - x(25)) < 0.3, '25x: from 1.0x to its value');
  t.ok(num(bars[3]!, 'width') <= 1, '1.0x: a hairline');
  const w = (i: number): number => num(bars[i]!, 'width');
  t.ok(Math.abs(w(2) / w(0) - Math.log10(25) / -Math.log10(0.05)) < 0.01, 'widths proportional to |log ratio|');
  const targets = byClass(root, 'target');
  t.equal(targets.length, 2, 'one marker per target');
  t.ok(Math.abs(num(targets[0]!, 'x1') - x(0.5)) < 0.3 && Math.abs(num(targets[1]!, 'x1') - x(20)) < 0.3, 'markers at 0.5x and 20x');
  t.same(byClass(root, 'value').map((v) => v.text), ['0.050x', '0.70x', '25.0x', '1.00x']);
  const svgWidth = num(root, 'width');
  for (const e of [...bars, ...byClass(root, 'value'), ...byClass(root, 'tick')]) {
    const x0 = num(e, 'x');
    t.ok(x0 >= 0 && x0 + (num(e, 'width') || 0) <= svgWidth, `${e.name} ${e.text} inside the picture`);
  }
  // three decades and more: ticks at powers of 10 only
  const wide = parse(t, renderChartSvg({ ...input, rows: [{ id: 'w', label: 'wide', ratios: { warren: 0.004, [G]: 2500 } }] }));
  const wideTicks = axis(t, wide).ticks;
  t.ok(wideTicks.every((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9), `decades only: ${wideTicks.join(', ')}`);
  t.ok(Math.min(...wideTicks) <= 0.004 && Math.max(...wideTicks) >= 2500, 'covers both');
  t.same(byClass(wide, 'value').map((v) => v.text), ['0.0040x', '2500x']);
});

t.test('XML special characters escaped in every text', async (t) => {
  const nasty = `<b>&"it's"</b>`;
  const svg = renderChartSvg({
    title: `T ${nasty}`, subtitle: `S ${nasty}`, reference: `R ${nasty}`, brokers: [`B ${nasty}`],
    rows: [{ id: `<i>`, label: `L ${nasty}`, ratios: { [`B ${nasty}`]: 2 } }],
  });
  t.notMatch(svg, /<b>|<\/b>|<i>|&"/, 'no raw markup from the input');
  t.match(svg, /L &lt;b&gt;&amp;&quot;it&apos;s&quot;&lt;\/b&gt;/);
  const root = parse(t, svg);
  const texts = all(root, (e) => e.name === 'text').map((e) => e.text);
  for (const s of [`T ${nasty}`, `S ${nasty}`, `L ${nasty}`, `B ${nasty}`, `R ${nasty} = 1.0x`, '<i>']) t.ok(texts.includes(s), `text ${s} round-trips`);
  t.equal(byClass(root, 'bar')[0]!.children[0]!.text, `B ${nasty}: 2.00x`);
  // characters XML 1.0 forbids are dropped rather than breaking the document
  const ctl = renderChartSvg({ ...sample(), title: 'a\u0000b\u001bc' });
  parse(t, ctl);
  t.notMatch(ctl, /[\u0000\u001b]/);
});

t.test('deterministic: the same input gives the same string', async (t) => {
  const a = renderChartSvg(sample());
  t.equal(renderChartSvg(sample()), a);
  t.equal(renderChartSvg(structuredClone(sample())), a);
  t.not(renderChartSvg({ ...sample(), subtitle: 'other' }), a, 'and a different input a different one');
});

t.test('no rows, no brokers: still a well-formed chart', async (t) => {
  const root = parse(t, renderChartSvg({ title: 'empty', subtitle: '', reference: 'RabbitMQ', brokers: [], rows: [] }));
  t.equal(byClass(root, 'bar').length, 0);
  t.ok(byClass(root, 'tick').length >= 3);
});

/** A text's width at 12 px, rounded up from DejaVu Sans (the widest usual fallback): 7.7 px a character, 5 for narrow ones, 10.1 for ~ and =. */
const atMost = (s: string): number => [...s].reduce((w, ch) => w + (/[ijlrtf.,: ]/.test(ch) ? 5 : /[~=]/.test(ch) ? 10.1 : 7.7), 0);

t.test('legend items on one line leave room for long broker names', async (t) => {
  // the Debian garagemq version string ran into the next legend item when widths were counted at 6.4 px a character
  const long = 'garagemq 0.0~git20200204.15e6a9d';
  const input = { ...sample(), brokers: ['warren', long, 'another broker 12.345.6789'] };
  const root = parse(t, renderChartSvg(input));
  const legendTexts = all(root, (e) => e.name === 'text' && !e.attrs.class && num(e, 'y') > 60 && num(e, 'y') < 130);
  const names = ['warren', long, 'another broker 12.345.6789', 'RabbitMQ 3.10.8 = 1.0x'];
  const items = names.map((n) => legendTexts.find((e) => e.text === n));
  t.ok(items.every(Boolean), 'each broker and the reference are in the legend');
  for (let i = 1; i < items.length; i++) {
    const [prev, next] = [items[i - 1]!, items[i]!];
    if (num(prev, 'y') !== num(next, 'y')) continue; // wrapped to the next line
    t.ok(num(next, 'x') - 18 >= num(prev, 'x') + atMost(prev.text), `"${next.text}" starts after "${prev.text}" ends`);
  }
  for (const e of items) t.ok(num(e!, 'x') + atMost(e!.text) <= 900, `"${e!.text}" inside the 900 px width`);
});
