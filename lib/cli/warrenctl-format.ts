/**
 * warrenctl's output formats, as rabbitmqctl 3.10 prints them.
 *
 * table (the default): a header line of column names, then one line per row,
 * columns separated by tabs; nothing at all (not even the header) for no
 * rows. Values: strings as they are, numbers and booleans as text, null and
 * missing as nothing, a list of strings as "[a, b]" (user tags), a table
 * (queue arguments, client properties) Erlang-style: [{"x-max-length",5}],
 * nested tables inside.
 *
 * json: rabbitmqctl's streaming layout, one object per line:
 *
 *   [
 *   {"name":"q1","messages":0}
 *   ,{"name":"q2","messages":3}
 *   ]
 *
 * with the API's values as they are (arguments stay JSON objects).
 */

export type Row = Record<string, unknown>;
/** How a column's value is read from one API object: a field path ("queue.name") or a function. */
export type Getter = string | ((o: Row) => unknown);
export type ColumnSet = Readonly<Record<string, Getter>>;

export function getField(o: Row, path: string): unknown {
  let v: unknown = o;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Row)[key];
  }
  return v;
}

export function readColumn(o: Row, getter: Getter): unknown {
  return typeof getter === 'function' ? getter(o) : getField(o, getter);
}

/** The rows an API listing gives for the chosen columns, in the column order. */
export function project(items: readonly Row[], columns: readonly string[], set: ColumnSet): Row[] {
  return items.map((item) => {
    const row: Row = {};
    for (const c of columns) row[c] = readColumn(item, set[c]!);
    return row;
  });
}

/** A value inside a table: strings quoted. */
function nested(v: unknown): string {
  if (v === null || v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(nested).join(',') + ']';
  if (typeof v === 'object') return erlangTable(v as Row);
  return String(v);
}

function erlangTable(o: Row): string {
  return '[' + Object.entries(o).map(([k, v]) => `{${JSON.stringify(k)},${nested(v)}}`).join(',') + ']';
}

/** One cell of table output. */
export function renderValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) {
    return '[' + v.map((e) => (e !== null && typeof e === 'object' ? nested(e) : renderValue(e))).join(', ') + ']';
  }
  if (typeof v === 'object') return erlangTable(v as Row);
  return String(v);
}

/** Tab-separated lines, each ending in "\n"; "" for no rows. */
export function formatTable(columns: readonly string[], rows: readonly Row[], headers = true): string {
  if (rows.length === 0) return '';
  const lines = headers ? [columns.join('\t')] : [];
  for (const row of rows) lines.push(columns.map((c) => renderValue(row[c]).replace(/[\t\n]/g, ' ')).join('\t'));
  return lines.join('\n') + '\n';
}

/** rabbitmqctl's JSON list layout. */
export function formatJsonList(rows: readonly Row[]): string {
  return '[\n' + rows.map((r, i) => (i === 0 ? '' : ',') + JSON.stringify(r) + '\n').join('') + ']\n';
}
