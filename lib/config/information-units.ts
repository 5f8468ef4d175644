// Byte counts written with RabbitMQ's information units, as in
// `disk_free_limit.absolute = 1GB` (rabbit_resource_monitor_misc,
// parse_information_unit, RabbitMQ 3.13 and later):
//   - a plain integer is bytes;
//   - k, M, G, T, P, alone or followed by B (kB, MB, ...), are powers of 10
//     (RabbitMQ 3.13 made the single letters decimal, as Kubernetes does);
//   - Ki, Mi, Gi, Ti, Pi, alone or followed by B (KiB, MiB, ...), are powers of 2.
// Units are matched without regard to case (RabbitMQ lists most case
// variants one by one: kB, KB, kb, Kb, KIB, kib...). No spaces, no fractions.

const DECIMAL: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };
const BINARY: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

const PATTERN = /^([0-9]+)(?:([kmgtp])(i?)b?)?$/i;

/** Examples for error messages. */
export const INFORMATION_UNIT_EXAMPLES = '50000000, 50MB, 512MiB, 2GB, 1TiB';

/**
 * The number of bytes `text` means, or undefined when it is not an integer
 * with an optional unit or the result is not a safe integer.
 */
export function parseInformationUnit(text: string): number | undefined {
  const match = PATTERN.exec(text);
  if (!match) return undefined;
  const [, digits, prefix, binary] = match;
  let bytes = Number(digits);
  if (prefix !== undefined) {
    const letter = prefix.toLowerCase();
    bytes *= binary ? BINARY[letter]! : DECIMAL[letter]!;
  }
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
