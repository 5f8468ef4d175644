/**
 * The README chart of `npm run bench`: renders the ratios of each broker to the
 * reference broker (RabbitMQ) as one self-contained SVG 1.1 string that GitHub
 * shows as an image. This file owns the chart only: layout, the logarithmic
 * axis (range, ticks, gridlines), colours, the legend, number formatting and the
 * XML escaping of every text. It measures nothing, computes no ratio and writes
 * no file: the caller passes ratios in and writes the string out.
 *
 * Each row is a group of horizontal bars (one per broker, in `brokers` order)
 * that start at the 1.0x line (the reference broker) and end at the broker's
 * ratio: to the right above 1, to the left below 1. The ratio is printed at the
 * bar's end, "n/a" stands where a ratio is null (or not a positive number). A
 * red dashed segment with two small triangles marks a row's target; the label column says whether it is
 * a minimum (throughput) or a maximum (lowerIsBetter: latency, RSS). Output is
 * deterministic: no dates, no randomness, numbers rounded to 0.1 px.
 */

export interface ChartRow {
  /** short id, e.g. 'a' */
  id: string;
  /** what is measured, e.g. '1p/1c 16 B transient (msg/s)' */
  label: string;
  /** the target ratio vs the reference broker, if any, e.g. 3.5 */
  target?: number;
  /** per broker name (other than the reference), its ratio to the reference broker; null = not measured / failed */
  ratios: Record<string, number | null>;
  /** true when lower is better for the underlying metric (latency, RSS): the ratio shown is still broker/reference, but the target is a maximum */
  lowerIsBetter?: boolean;
}

export interface ChartInput {
  title: string;
  /** e.g. 'medians of 3 rounds; 2 cores; Node 20.20; RabbitMQ 3.10.8; 2026-12-04' */
  subtitle: string;
  /** the broker every ratio is relative to, e.g. 'RabbitMQ 3.10.8' (drawn as the 1.0x line) */
  reference: string;
  /** the brokers with bars, in order, e.g. ['warren', 'garagemq 0.x'] */
  brokers: string[];
  rows: ChartRow[];
}

const WIDTH = 900;
const FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif";
const COLOURS = ['#2f6fd6', '#f08c2e', '#2e9e5b', '#8e5cc4', '#8c6d3f', '#17a2b8'];
const TARGET_COLOUR = '#d62728';
const LABEL_X = 16; // left edge of the row ids; the labels start 22 px further
const PLOT_L = 300;
const PLOT_R = WIDTH - 20;
const BAR_H = 14;
const BAR_GAP = 3;
const ROW_PAD = 8;
const LINE_H = 14;
const CHAR_W = 6.4; // rough width of one 12 px character of the font stack, for wrapping the row labels
const VALUE_ROOM = 48; // px kept free beyond a bar's end for its "12.3x"
const K_MIN = -12; // axis never below 0.0001x ...
const K_MAX = 12; // ... nor above 10000x; bars beyond are clamped, their text is not

/**
 * Width of s in px at the given font size, from DejaVu Sans's advance widths
 * (units of 1/2048 em). DejaVu is what Linux falls back to for this font
 * stack and is wider than Helvetica or Arial, so text measured this way fits
 * in any of them. Used to lay out the legend, whose items sit side by side.
 */
export function textWidth(s: string, size = 12): number {
  let units = 0;
  for (const ch of s) {
    if ("il|'".includes(ch)) units += 600;
    else if (' .,:;!'.includes(ch)) units += 700;
    else if ('ftrj()[]'.includes(ch)) units += 850;
    else if ('mwMW'.includes(ch)) units += 2000;
    else if ('~=+<>≥≤'.includes(ch)) units += 1716;
    else if (ch >= 'A' && ch <= 'Z') units += 1500;
    else units += 1310; // digits and most lower-case letters
  }
  return (units * size) / 2048;
}

/** Escapes text for XML content and attribute values; drops the characters XML 1.0 forbids. */
function esc(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A coordinate, rounded to 0.1 px. */
function px(n: number): string {
  const r = Math.round(n * 10) / 10;
  return (r === 0 ? 0 : r).toString();
}

/** "3.62x", "12.3x", "150x", "0.045x". */
function ratioText(r: number): string {
  if (r >= 100) return `${r.toFixed(0)}x`;
  if (r >= 10) return `${r.toFixed(1)}x`;
  if (r >= 0.1) return `${r.toFixed(2)}x`;
  return `${r.toPrecision(2)}x`;
}

/** A ratio that can be drawn on a log axis, or null. */
function usable(r: number | null | undefined): number | null {
  return typeof r === 'number' && Number.isFinite(r) && r > 0 ? r : null;
}

/** The k-th value of the 1-2-5 sequence: k=0 is 1, k=1 is 2, k=2 is 5, k=3 is 10, k=-1 is 0.5. */
function tick(k: number): number {
  const m = [1, 2, 5][((k % 3) + 3) % 3]!;
  return Number((m * 10 ** Math.floor(k / 3)).toPrecision(6));
}

/** The largest k with tick(k) <= v. */
function floorK(v: number): number {
  let k = 3 * Math.floor(Math.log10(v));
  while (tick(k) > v * (1 + 1e-9)) k--;
  while (tick(k + 1) <= v * (1 + 1e-9)) k++;
  return k;
}

/** Splits a label into at most `maxLines` lines of at most `maxChars`, cutting with an ellipsis. */
function wrap(text: string, maxChars: number, maxLines: number): string[] {
  const cut = (s: string): string => (s.length > maxChars ? `${s.slice(0, maxChars - 1)}…` : s);
  const lines: string[] = [];
  let cur = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (cur && `${cur} ${w}`.length > maxChars) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  if (lines.length > maxLines) lines.splice(maxLines - 1, lines.length, lines.slice(maxLines - 1).join(' '));
  return lines.map(cut);
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`;
}

export function renderChartSvg(input: ChartInput): string {
  const { brokers, rows } = input;
  const out: string[] = [];

  // --- axis range: 1-2-5 ticks around the data, the targets and 1.0x, with room for the value texts
  const bars = rows.flatMap((r) => brokers.map((b) => usable(r.ratios[b])).filter((v): v is number => v !== null));
  const targets = rows.map((r) => usable(r.target)).filter((v): v is number => v !== null);
  const all = [1, ...bars, ...targets];
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  let kLo = Math.max(K_MIN, Math.min(-1, floorK(lo)));
  let kHi = Math.min(K_MAX, Math.max(1, tick(floorK(hi)) < hi * (1 - 1e-9) ? floorK(hi) + 1 : floorK(hi)));
  const decades = (): boolean => kHi - kLo > 7;
  let x = (_r: number): number => 0;
  for (let i = 0; i < 30; i++) {
    if (decades()) [kLo, kHi] = [Math.floor(kLo / 3) * 3, Math.ceil(kHi / 3) * 3];
    const l0 = Math.log10(tick(kLo));
    const span = Math.log10(tick(kHi)) - l0;
    x = (r) => PLOT_L + ((Math.log10(Math.min(Math.max(r, tick(kLo)), tick(kHi))) - l0) / span) * (PLOT_R - PLOT_L);
    const maxBar = Math.max(1, ...bars);
    const minBar = Math.min(1, ...bars);
    let grown = false;
    if (maxBar > 1 && x(maxBar) + VALUE_ROOM > PLOT_R && kHi < K_MAX) [kHi, grown] = [kHi + 1, true];
    if (minBar < 1 && x(minBar) - VALUE_ROOM < PLOT_L && kLo > K_MIN) [kLo, grown] = [kLo - 1, true];
    if (!grown) break;
  }
  const ticks: number[] = [];
  for (let k = kLo; k <= kHi; k++) if (!decades() || k % 3 === 0) ticks.push(tick(k));

  // --- header: title, subtitle, legend (wrapping to more lines when needed)
  out.push(text(LABEL_X, 30, input.title, 'font-size="18" font-weight="bold" fill="#1f2328"'));
  out.push(text(LABEL_X, 50, input.subtitle, 'font-size="12" fill="#57606a"'));
  let lx = LABEL_X;
  let ly = 76;
  const legend = (w: number, draw: (x: number, y: number) => string): void => {
    if (lx > LABEL_X && lx + w > WIDTH - LABEL_X) [lx, ly] = [LABEL_X, ly + 20];
    out.push(draw(lx, ly));
    lx += w + 18;
  };
  brokers.forEach((b, i) => {
    legend(18 + textWidth(b), (x0, y0) =>
      `<rect class="swatch" x="${px(x0)}" y="${px(y0 - 10)}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>` +
      text(x0 + 18, y0, b, 'font-size="12" fill="#1f2328"'));
  });
  const refLegend = `${input.reference} = 1.0x`;
  legend(14 + textWidth(refLegend), (x0, y0) =>
    `<line x1="${px(x0 + 4)}" y1="${px(y0 - 12)}" x2="${px(x0 + 4)}" y2="${px(y0 + 3)}" stroke="#24292f" stroke-width="1.5"/>` +
    text(x0 + 14, y0, refLegend, 'font-size="12" fill="#1f2328"'));
  const tgtLegend = 'target (≥ minimum; ≤ maximum where lower is better)';
  legend(14 + textWidth(tgtLegend), (x0, y0) =>
    `<line x1="${px(x0 + 4)}" y1="${px(y0 - 12)}" x2="${px(x0 + 4)}" y2="${px(y0 + 3)}" stroke="${TARGET_COLOUR}" stroke-width="2" stroke-dasharray="4 2"/>` +
    text(x0 + 14, y0, tgtLegend, 'font-size="12" fill="#1f2328"'));
  const plotTop = ly + 36;

  // --- rows: stripes, labels, bars, values, targets (gridlines go under them, drawn after the height is known)
  const stripes: string[] = [];
  const body: string[] = [];
  const x1 = x(1);
  const ids = rows.map((r) => (r.id.length > 12 ? `${r.id.slice(0, 11)}…` : r.id));
  const labelX = LABEL_X + Math.max(22, ...ids.map((id) => id.length * 7.5 + 10));
  const labelChars = Math.floor((PLOT_L - 12 - labelX) / CHAR_W);
  const values: string[] = []; // drawn last, over the target markers
  const barsH = brokers.length * BAR_H + Math.max(0, brokers.length - 1) * BAR_GAP;
  let y = plotTop;
  rows.forEach((row, ri) => {
    const lines = wrap(row.label, labelChars, 2);
    const tgt = usable(row.target);
    const note = tgt !== null
      ? `target ${row.lowerIsBetter ? '≤' : '≥'} ${Number(tgt.toPrecision(3))}x${row.lowerIsBetter ? ' (lower is better)' : ''}`
      : row.lowerIsBetter ? 'lower is better' : '';
    const textLines = lines.length + (note ? 1 : 0);
    const h = Math.max(barsH, textLines * LINE_H) + 2 * ROW_PAD;
    if (ri % 2 === 0) stripes.push(`<rect class="stripe" x="8" y="${px(y)}" width="${WIDTH - 16}" height="${px(h)}" fill="#f6f8fa"/>`);
    let ty = y + (h - textLines * LINE_H) / 2 + 11;
    body.push(text(LABEL_X, ty, ids[ri]!, 'font-size="12" font-weight="bold" fill="#1f2328"'));
    for (const line of lines) {
      body.push(text(labelX, ty, line, 'font-size="12" fill="#1f2328"'));
      ty += LINE_H;
    }
    if (note) body.push(text(labelX, ty, note, 'font-size="11" fill="#57606a"'));
    const tx = tgt === null ? null : x(tgt);
    // a text at [from, from + width] (rightwards) or [from - width, from] that would cross the target marker moves past it
    const dodge = (from: number, width: number, right: boolean): number => {
      if (tx === null) return from;
      if (right) return tx >= from - 2 && tx <= from + width + 2 && tx + 4 + width <= WIDTH - 4 ? tx + 4 : from;
      return tx >= from - width - 2 && tx <= from + 2 && tx - 4 - width >= PLOT_L - 10 ? tx - 4 : from;
    };
    brokers.forEach((b, bi) => {
      const by = y + (h - barsH) / 2 + bi * (BAR_H + BAR_GAP);
      const mid = by + BAR_H / 2 + 4;
      const r = usable(row.ratios[b]);
      if (r === null) {
        values.push(text(dodge(x1 + 5, 18, true), mid, 'n/a', 'class="na" font-size="11" font-style="italic" fill="#8c959f"'));
        return;
      }
      const xe = x(r);
      const left = Math.min(x1, xe);
      const w = Math.max(1, Math.abs(xe - x1));
      const label = ratioText(r);
      body.push(`<rect class="bar" x="${px(left)}" y="${px(by)}" width="${px(w)}" height="${BAR_H}" fill="${COLOURS[bi % COLOURS.length]}"><title>${esc(`${b}: ${label}`)}</title></rect>`);
      values.push(r >= 1
        ? text(dodge(Math.max(xe, x1 + 1) + 4, label.length * 6.2, true), mid, label, 'class="value" font-size="11" fill="#1f2328"')
        : text(dodge(xe - 4, label.length * 6.2, false), mid, label, 'class="value" font-size="11" fill="#1f2328" text-anchor="end"'));
    });
    if (tx !== null) {
      body.push(`<line class="target" x1="${px(tx)}" y1="${px(y + 2)}" x2="${px(tx)}" y2="${px(y + h - 2)}" stroke="${TARGET_COLOUR}" stroke-width="2" stroke-dasharray="4 2"/>`);
      body.push(`<path d="M${px(tx - 4)} ${px(y)}h8l-4 5zM${px(tx - 4)} ${px(y + h)}h8l-4 -5z" fill="${TARGET_COLOUR}"/>`);
    }
    y += h;
  });
  const plotBottom = Math.max(y, plotTop + 20);

  // --- stripes and grid under the bars, the 1.0x line over them, tick labels and caption below
  const height = Math.ceil(plotBottom + 50);
  const refLabel = `${input.reference} = 1.0x`;
  const refHalf = (textWidth(refLabel, 11) * 1.1) / 2; // bold
  const refAnchor = x1 + refHalf > WIDTH - 8 ? 'end' : x1 - refHalf < 8 ? 'start' : 'middle';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${esc(FONT)}">`,
    `<rect class="background" x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...out,
    ...stripes,
    ...ticks.map((v) => `<line class="grid" x1="${px(x(v))}" y1="${px(plotTop)}" x2="${px(x(v))}" y2="${px(plotBottom)}" stroke="#d0d7de" stroke-width="1"/>`),
    ...ticks.map((v) => text(x(v), plotBottom + 16, `${v}x`, 'class="tick" font-size="11" fill="#57606a" text-anchor="middle"')),
    ...body,
    ...values,
    `<line class="reference" x1="${px(x1)}" y1="${px(plotTop - 4)}" x2="${px(x1)}" y2="${px(plotBottom)}" stroke="#24292f" stroke-width="1.5"/>`,
    text(x1, plotTop - 8, refLabel, `class="reference-label" font-size="11" font-weight="bold" fill="#24292f" text-anchor="${refAnchor}"`),
    text((PLOT_L + PLOT_R) / 2, plotBottom + 36, `ratio to ${input.reference} (log scale)`, 'font-size="12" fill="#57606a" text-anchor="middle"'),
    '</svg>',
    '',
  ].join('\n');
}
