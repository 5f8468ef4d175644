// pika (Debian's python3-pika, an unmodified client) against bin/warren.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, cleanEnv, startWarren } from './helpers/warren-process.js';

// Debian's Python packages are visible to /usr/bin/python3 only.
const PYTHON = '/usr/bin/python3';

const hasPika = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import pika']).status === 0;
const skip = hasPika ? false : 'python3-pika is not installed (apt-get install python3-pika; .ci/run installs it)';

t.test('pika: 100 channels, auth failure, unknown vhost, a transaction', { skip }, async (t) => {
  const w = await startWarren(t);
  const out = await new Promise<string>((resolve, reject) => {
    execFile(PYTHON, [join(REPO_ROOT, 'conformance/clients/pika_connection.py'), String(w.port)], { env: cleanEnv(), timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
  const r = JSON.parse(out) as Record<string, unknown>;
  t.equal(r.server_product, 'warren');
  t.equal(r.channels_opened, 100);
  t.equal(r.channels_closed, 100);
  t.equal(r.clean_close, true);
  t.match(r.wrong_password, /^ProbableAuthenticationError|AuthenticationError|ACCESS_REFUSED/);
  t.match(r.unknown_vhost, /530.*NOT_ALLOWED - vhost no-such-vhost not found/);
  t.equal(r.tx_committed, 1, 'a committed publish arrives');
  t.same(r.tx_commit_without_select, [406, 'PRECONDITION_FAILED - channel is not transactional']);
});
