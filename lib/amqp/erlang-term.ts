/**
 * Bytes formatted as Erlang prints a binary with ~p: `<<0,20,0,10,0>>`, or
 * `<<"hello">>` when every byte is printable Latin-1. RabbitMQ's reply texts
 * for frame errors quote the offending frame this way ("FRAME_ERROR - type 1,
 * all octets = <<...>>: unknown_frame"), and warren quotes it the same.
 */

function printable(b: number): boolean {
  return (b >= 32 && b <= 126) || b >= 160 || (b >= 8 && b <= 13) || b === 27;
}

const ESCAPES: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 27: '\\e', 34: '\\"', 92: '\\\\' };

/** At most `limit` bytes are shown (reply texts are short strings anyway). */
export function erlangBinary(bytes: Buffer, limit = 128): string {
  const shown = bytes.length > limit ? bytes.subarray(0, limit) : bytes;
  const more = bytes.length > limit ? ',...' : '';
  if (shown.length > 0 && shown.every(printable)) {
    let s = '';
    for (const b of shown) s += ESCAPES[b] ?? String.fromCharCode(b);
    return `<<"${s}"${more}>>`;
  }
  return `<<${shown.join(',')}${more}>>`;
}

/** "type 1, all octets = <<...>>", RabbitMQ's description of a frame. */
export function frameDescription(type: number, payload: Buffer): string {
  return `type ${type}, all octets = ${erlangBinary(payload)}`;
}
