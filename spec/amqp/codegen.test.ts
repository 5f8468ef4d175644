// The generated codec must be exactly what tools/amqp-codegen.ts produces
// from the spec XML: hand edits to lib/amqp/generated/ fail here.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '../../tools/amqp-codegen.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

t.test('committed generated files match a fresh generation', async (t) => {
  const files = generate(root);
  t.equal(files.size, 3, 'constants, methods, properties');
  for (const [path, text] of files) {
    const committed = readFileSync(join(root, path), 'utf8');
    t.ok(committed.startsWith('// GENERATED FILE - DO NOT EDIT.'), `${path} is marked generated`);
    t.ok(committed === text, `${path} is up to date (run npm run codegen)`);
  }
});

t.test('the generated methods cover RabbitMQ\'s extensions', async (t) => {
  const methods = generate(root).get('lib/amqp/generated/methods.ts')!;
  for (const name of [
    'ConfirmSelect', 'ConfirmSelectOk', 'BasicNack', 'ExchangeBind', 'ExchangeUnbindOk',
    'ConnectionBlocked', 'ConnectionUnblocked', 'ConnectionUpdateSecret', 'ConnectionUpdateSecretOk',
  ]) {
    t.match(methods, new RegExp(`export function decode${name}\\(`), `${name} has a decoder`);
  }
});
