/**
 * Generates the AMQP 0-9-1 codec in lib/amqp/generated/ from the
 * machine-readable spec in lib/amqp/spec/:
 *   - amqp0-9-1.extended.xml: RabbitMQ's extended 0-9-1 XML (Debian amqp-specs)
 *   - rabbitmq-additions.xml: methods RabbitMQ has that the XML lacks
 *
 *   npm run codegen            rewrite the generated files
 *   npm run codegen -- --check exit 1 if they differ from what is committed
 *
 * spec/amqp/codegen.test.ts runs generate() and diffs it against the
 * committed files, so hand edits to the output fail the tests.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}

/** Parses the small XML subset the spec uses: elements, attributes, comments. */
export function parseXml(text: string): XmlNode {
  const root: XmlNode = { name: '#root', attrs: {}, children: [] };
  const stack: XmlNode[] = [root];
  const stripped = text.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?[\s\S]*?\?>/g, '');
  const tag = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w.-]+\s*=\s*"[^"]*")*)\s*(\/?)>/g;
  for (let m = tag.exec(stripped); m; m = tag.exec(stripped)) {
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      const top = stack.pop();
      if (!top || top.name !== name) throw new Error(`mismatched </${name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText!.matchAll(/([\w.-]+)\s*=\s*"([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    const node: XmlNode = { name: name!, attrs, children: [] };
    stack[stack.length - 1]!.children.push(node);
    if (!selfClosing) stack.push(node);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  return root;
}

const kids = (n: XmlNode, name: string): XmlNode[] => n.children.filter((c) => c.name === name);

export interface Field {
  name: string;
  type: string; // primitive: bit octet short long longlong shortstr longstr timestamp table
  reserved: boolean;
}
export interface MethodDef {
  className: string;
  classId: number;
  name: string;
  index: number;
  synchronous: boolean;
  content: boolean;
  /** the spec's server chassis implements it: a client may send it */
  fromClient: boolean;
  fields: Field[];
}
export interface Spec {
  constants: { name: string; value: number; cls?: string }[];
  methods: MethodDef[];
  properties: Field[];
}

export function readSpec(mainXml: string, additionsXml: string): Spec {
  const amqp = kids(parseXml(mainXml), 'amqp')[0]!;
  const additions = kids(parseXml(additionsXml), 'amqp-additions')[0]!;
  const domains = new Map<string, string>();
  for (const d of kids(amqp, 'domain')) domains.set(d.attrs.name!, d.attrs.type!);
  const fieldOf = (f: XmlNode): Field => {
    const type = f.attrs.type ?? domains.get(f.attrs.domain!);
    if (!type) throw new Error(`field ${f.attrs.name} has no type`);
    return { name: f.attrs.name!, type, reserved: f.attrs.reserved === '1' };
  };
  const constants = [...kids(amqp, 'constant'), ...kids(additions, 'constant')]
    .map((c) => ({ name: c.attrs.name!, value: Number(c.attrs.value), cls: c.attrs.class }))
    .sort((a, b) => a.value - b.value);
  const methods: MethodDef[] = [];
  let properties: Field[] = [];
  const addClass = (c: XmlNode): void => {
    const classId = Number(c.attrs.index);
    for (const m of kids(c, 'method')) {
      methods.push({
        className: c.attrs.name!,
        classId,
        name: m.attrs.name!,
        index: Number(m.attrs.index),
        synchronous: m.attrs.synchronous === '1',
        content: m.attrs.content === '1',
        fromClient: kids(m, 'chassis').some((ch) => ch.attrs.name === 'server'),
        fields: kids(m, 'field').map(fieldOf),
      });
    }
    if (c.attrs.name === 'basic') properties = kids(c, 'field').map(fieldOf);
  };
  for (const c of kids(amqp, 'class')) addClass(c);
  for (const c of kids(additions, 'class')) addClass(c);
  methods.sort((a, b) => a.classId - b.classId || a.index - b.index);
  return { constants, methods, properties };
}

const camel = (s: string): string => s.replace(/-([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
/** A local variable for a field (`arguments` may not be a variable name in strict code). */
const local = (f: Field): string => (f.name === 'arguments' ? 'args' : camel(f.name));
const pascal = (s: string): string => camel(s).replace(/^[a-z]/, (ch) => ch.toUpperCase());
const typeName = (m: MethodDef): string => pascal(m.className) + pascal(m.name);
const hex8 = (n: number): string => '0x' + n.toString(16).padStart(8, '0');
const methodId = (m: MethodDef): number => m.classId * 0x10000 + m.index;
/** The basic property 0-9-1 calls "reserved" is RabbitMQ's (and every client's) cluster-id. */
const propertyName = (f: Field): string => (f.name === 'reserved' ? 'clusterId' : camel(f.name));

const TS_TYPE: Record<string, string> = {
  bit: 'boolean',
  octet: 'number',
  short: 'number',
  long: 'number',
  longlong: 'number',
  timestamp: 'number',
  shortstr: 'string',
  longstr: 'Buffer',
  table: 'FieldTable',
};
const READ: Record<string, string> = {
  octet: 'r.u8()',
  short: 'r.u16()',
  long: 'r.u32()',
  longlong: 'r.u64()',
  timestamp: 'r.u64()',
  shortstr: 'r.shortstr()',
  longstr: 'r.longstr()',
  table: 'r.table()',
};
const WRITE: Record<string, string> = {
  octet: 'u8',
  short: 'u16',
  long: 'u32',
  longlong: 'u64',
  timestamp: 'u64',
  shortstr: 'shortstr',
  longstr: 'longstr',
  table: 'table',
};
const ZERO: Record<string, string> = {
  octet: '0',
  short: '0',
  long: '0',
  longlong: '0',
  timestamp: '0',
  shortstr: "''",
  longstr: "''",
  table: 'null',
};

const HEADER = (what: string): string =>
  `// GENERATED FILE - DO NOT EDIT.\n` +
  `// ${what}\n` +
  `// Generated by tools/amqp-codegen.ts from lib/amqp/spec/amqp0-9-1.extended.xml and\n` +
  `// lib/amqp/spec/rabbitmq-additions.xml; \`npm run codegen\` rewrites it and\n` +
  `// spec/amqp/codegen.test.ts fails if it differs from the generator's output.\n`;

/** Groups consecutive bit fields into the octets they are packed in. */
function fieldGroups(fields: Field[]): (Field | Field[])[] {
  const out: (Field | Field[])[] = [];
  for (const f of fields) {
    const last = out[out.length - 1];
    if (f.type === 'bit' && Array.isArray(last) && last.length < 8) last.push(f);
    else out.push(f.type === 'bit' ? [f] : f);
  }
  return out;
}

function genConstants(spec: Spec): string {
  const L: string[] = [HEADER('AMQP 0-9-1 constants: frame types, sizes and reply codes.'), ''];
  const isFrameType = (c: { name: string; cls?: string }): boolean =>
    c.name.startsWith('frame-') && !c.cls && c.name !== 'frame-min-size' && c.name !== 'frame-end';
  const frames = spec.constants.filter(isFrameType);
  L.push('/** Frame types. */', 'export const FrameType = {');
  for (const c of frames) L.push(`  ${pascal(c.name.slice(6))}: ${c.value},`);
  L.push('} as const;', '');
  const minSize = spec.constants.find((c) => c.name === 'frame-min-size')!;
  const end = spec.constants.find((c) => c.name === 'frame-end')!;
  L.push(`export const FRAME_MIN_SIZE = ${minSize.value};`, `export const FRAME_END_OCTET = ${end.value};`, '');
  const codes = spec.constants.filter((c) => !c.name.startsWith('frame-') || c.cls);
  L.push('/** Reply codes. */', 'export const ReplyCode = {');
  for (const c of codes) L.push(`  ${pascal(c.name)}: ${c.value},`);
  L.push('} as const;', '');
  L.push('/** Reply code -> the constant name RabbitMQ puts at the start of reply texts. */');
  L.push('export const REPLY_CODE_NAME: Readonly<Record<number, string>> = {');
  for (const c of codes) L.push(`  ${c.value}: '${c.name.toUpperCase().replace(/-/g, '_')}',`);
  L.push('};', '');
  L.push('/** Codes the spec classes as hard errors: they close the connection, not the channel. */');
  L.push('export const HARD_ERROR_CODES: ReadonlySet<number> = new Set([');
  L.push('  ' + codes.filter((c) => c.cls === 'hard-error').map((c) => c.value).join(', ') + ',');
  L.push(']);', '');
  return L.join('\n');
}

function genMethods(spec: Spec): string {
  const L: string[] = [
    HEADER('AMQP 0-9-1 methods with RabbitMQ\'s extensions: ids, argument types, decoders, encoders.'),
    "import type { FieldTable } from '../field-table.js';",
    "import type { WireReader } from '../wire-reader.js';",
    "import type { WireWriter } from '../wire-writer.js';",
    '',
    '/** Method ids: class-id << 16 | method-id, as they appear at the start of a method frame. */',
    'export const Method = {',
  ];
  for (const m of spec.methods) L.push(`  ${typeName(m)}: ${hex8(methodId(m))},`);
  L.push('} as const;', '');

  for (const m of spec.methods) {
    const T = typeName(m);
    const fields = m.fields.filter((f) => !f.reserved);
    L.push(`/** ${m.className}.${m.name} (${m.classId}.${m.index}) */`);
    L.push(`export interface ${T}Args {`);
    for (const f of fields) L.push(`  ${camel(f.name)}: ${TS_TYPE[f.type]};`);
    L.push('}');
    L.push(`export interface ${T} extends ${T}Args {`, `  readonly id: typeof Method.${T};`, '}', '');

    // decoder
    L.push(`export function decode${T}(${m.fields.length ? 'r' : '_r'}: WireReader): ${T} {`);
    const vals: string[] = [];
    let bitOctet = 0;
    for (const g of fieldGroups(m.fields)) {
      if (Array.isArray(g)) {
        const v = `bits${bitOctet++}`;
        const used = g.some((f) => !f.reserved);
        L.push(used ? `  const ${v} = r.u8();` : `  r.skip(1);`);
        g.forEach((f, i) => {
          if (!f.reserved) vals.push(`${camel(f.name)}: (${v} & ${1 << i}) !== 0`);
        });
      } else if (g.reserved) {
        L.push(`  ${READ[g.type]};`);
      } else {
        L.push(`  const ${local(g)} = ${READ[g.type]};`);
        vals.push(local(g) === camel(g.name) ? local(g) : `${camel(g.name)}: ${local(g)}`);
      }
    }
    L.push(`  return { id: Method.${T}${vals.map((v) => ', ' + v).join('')} };`, '}', '');

    // encoder
    L.push(`export function encode${T}(w: WireWriter, ${fields.length ? 'a' : '_a'}: ${T}Args): void {`);
    L.push(`  w.u32(Method.${T});`);
    for (const g of fieldGroups(m.fields)) {
      if (Array.isArray(g)) {
        const parts = g.map((f, i) => (f.reserved ? null : `(a.${camel(f.name)} ? ${1 << i} : 0)`)).filter(Boolean);
        L.push(`  w.u8(${parts.length ? parts.join(' | ') : '0'});`);
      } else {
        const value = g.reserved ? ZERO[g.type] : `a.${camel(g.name)}`;
        L.push(`  w.${WRITE[g.type]}(${value});`);
      }
    }
    L.push('}', '');
  }

  L.push('/** Every method, discriminated by `id`. */');
  L.push('export type AnyMethod =');
  spec.methods.forEach((m, i) => L.push(`  | ${typeName(m)}${i === spec.methods.length - 1 ? ';' : ''}`));
  L.push('');
  L.push('/** Decode a method\'s arguments; undefined for an id no class defines. */');
  L.push('export function decodeMethod(id: number, r: WireReader): AnyMethod | undefined {');
  L.push('  switch (id) {');
  for (const m of spec.methods) L.push(`    case Method.${typeName(m)}: return decode${typeName(m)}(r);`);
  L.push('    default: return undefined;', '  }', '}', '');
  L.push('/** Encode a method payload (ids and arguments). */');
  L.push('export function encodeMethod(w: WireWriter, m: AnyMethod): void {');
  L.push('  switch (m.id) {');
  for (const m of spec.methods) L.push(`    case Method.${typeName(m)}: return encode${typeName(m)}(w, m);`);
  L.push('  }', '}', '');
  L.push('export interface MethodInfo {');
  L.push('  /** "class.method", as RabbitMQ names it in reply texts */');
  L.push('  readonly name: string;');
  L.push('  readonly classId: number;');
  L.push('  readonly methodId: number;');
  L.push('  readonly synchronous: boolean;');
  L.push('  /** followed by a content header and body frames */');
  L.push('  readonly hasContent: boolean;');
  L.push('  /** a client may send it (the spec\'s server chassis implements it) */');
  L.push('  readonly fromClient: boolean;');
  L.push('}', '');
  L.push('export const METHOD_INFO: ReadonlyMap<number, MethodInfo> = new Map([');
  for (const m of spec.methods) {
    L.push(`  [Method.${typeName(m)}, { name: '${m.className}.${m.name}', classId: ${m.classId}, methodId: ${m.index}, synchronous: ${m.synchronous}, hasContent: ${m.content}, fromClient: ${m.fromClient} }],`);
  }
  L.push(']);', '');
  const classes = [...new Map(spec.methods.map((m) => [m.classId, m.className])).entries()];
  L.push('export const CLASS_NAME: Readonly<Record<number, string>> = {');
  for (const [id, name] of classes) L.push(`  ${id}: '${name}',`);
  L.push('};', '');
  return L.join('\n');
}

function genProperties(spec: Spec): string {
  const props = spec.properties;
  const L: string[] = [
    HEADER('The 14 properties of class basic, carried in content header frames.'),
    "import type { FieldTable } from '../field-table.js';",
    "import { WireDecodeError } from '../wire-errors.js';",
    "import type { WireReader } from '../wire-reader.js';",
    "import type { WireWriter } from '../wire-writer.js';",
    '',
    'export interface BasicProperties {',
  ];
  for (const f of props) L.push(`  ${propertyName(f)}?: ${TS_TYPE[f.type]} | undefined;`);
  L.push('}', '');
  L.push('/** Property flag bits, first property in bit 15. */', 'export const PropertyFlag = {');
  props.forEach((f, i) => L.push(`  ${pascal(propertyName(f))}: ${hex8(1 << (15 - i)).replace(/^0x0000/, '0x')},`));
  L.push('} as const;', '');
  L.push('/** Reads the property flags and the properties they announce. */');
  L.push('export function decodeBasicProperties(r: WireReader): BasicProperties {');
  L.push('  const flags = r.u16();');
  L.push('  if (flags & 1) throw new WireDecodeError(\'property flags continuation: class basic has only 14 properties\');');
  L.push('  const p: BasicProperties = {};');
  props.forEach((f, i) => {
    L.push(`  if (flags & ${hex8(1 << (15 - i)).replace(/^0x0000/, '0x')}) p.${propertyName(f)} = ${READ[f.type]};`);
  });
  L.push('  return p;', '}', '');
  L.push('/** Writes the property flags and the properties that are set (not undefined). */');
  L.push('export function encodeBasicProperties(w: WireWriter, p: BasicProperties): void {');
  L.push('  let flags = 0;');
  props.forEach((f, i) => {
    L.push(`  if (p.${propertyName(f)} !== undefined) flags |= ${hex8(1 << (15 - i)).replace(/^0x0000/, '0x')};`);
  });
  L.push('  w.u16(flags);');
  for (const f of props) {
    L.push(`  if (p.${propertyName(f)} !== undefined) w.${WRITE[f.type]}(p.${propertyName(f)});`);
  }
  L.push('}', '');
  return L.join('\n');
}

/** The generated files, keyed by their path relative to the repository root. */
export function generate(root: string): Map<string, string> {
  const spec = readSpec(
    readFileSync(join(root, 'lib/amqp/spec/amqp0-9-1.extended.xml'), 'utf8'),
    readFileSync(join(root, 'lib/amqp/spec/rabbitmq-additions.xml'), 'utf8'),
  );
  return new Map([
    ['lib/amqp/generated/constants.ts', genConstants(spec)],
    ['lib/amqp/generated/methods.ts', genMethods(spec)],
    ['lib/amqp/generated/properties.ts', genProperties(spec)],
  ]);
}

/** The repository root: the nearest parent folder holding lib/amqp/spec. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'lib/amqp/spec/amqp0-9-1.extended.xml'))) return dir;
    if (dirname(dir) === dir) throw new Error('cannot find the repository root (lib/amqp/spec)');
  }
}

function main(argv: string[]): number {
  const root = existsSync(join(process.cwd(), 'lib/amqp/spec')) ? process.cwd() : repoRoot();
  const check = argv.includes('--check');
  let stale = 0;
  for (const [path, text] of generate(root)) {
    const full = join(root, path);
    const current = existsSync(full) ? readFileSync(full, 'utf8') : '';
    if (current === text) continue;
    stale++;
    if (check) console.error(`${path} is out of date: run npm run codegen`);
    else {
      writeFileSync(full, text);
      console.log(`wrote ${path}`);
    }
  }
  return check && stale ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
