// Tests for lib/config/information-units.ts: RabbitMQ's byte-count units
// (3.13 and later): single letters and xB are powers of 10, xi and xiB powers of 2.

import t from 'tap';
import { parseInformationUnit } from '../../lib/config/information-units.js';

t.test('a plain integer is bytes', async (t) => {
  t.equal(parseInformationUnit('0'), 0);
  t.equal(parseInformationUnit('50000000'), 50_000_000);
  t.equal(parseInformationUnit('007'), 7);
});

t.test('k, M, G, T, P and kB ... PB are powers of 10', async (t) => {
  const cases: [string, number][] = [
    ['1k', 1e3], ['1K', 1e3], ['1kB', 1e3], ['1KB', 1e3], ['1kb', 1e3], ['1Kb', 1e3],
    ['50MB', 50e6], ['50m', 50e6], ['50M', 50e6], ['50mb', 50e6],
    ['2GB', 2e9], ['2G', 2e9], ['2g', 2e9],
    ['3TB', 3e12], ['3T', 3e12],
    ['4PB', 4e15], ['4P', 4e15],
  ];
  for (const [text, bytes] of cases) t.equal(parseInformationUnit(text), bytes, text);
});

t.test('Ki, Mi, Gi, Ti, Pi and KiB ... PiB are powers of 2', async (t) => {
  const cases: [string, number][] = [
    ['1Ki', 1024], ['1KiB', 1024], ['1kiB', 1024], ['1KIB', 1024], ['1kib', 1024],
    ['512MiB', 512 * 2 ** 20], ['512Mi', 512 * 2 ** 20], ['512MIB', 512 * 2 ** 20],
    ['1GiB', 2 ** 30], ['1Gi', 2 ** 30],
    ['1TiB', 2 ** 40], ['1Ti', 2 ** 40],
    ['1PiB', 2 ** 50], ['1Pi', 2 ** 50],
  ];
  for (const [text, bytes] of cases) t.equal(parseInformationUnit(text), bytes, text);
});

t.test('anything else is not a byte count', async (t) => {
  for (const text of ['', 'MB', '1.5GB', '-1', '+1', '1 MB', ' 1', '1B', '1iB', '1XB', '1MBB', '1e6', '0x10', '9PiB', '99999999999999999']) {
    t.equal(parseInformationUnit(text), undefined, JSON.stringify(text));
  }
});
