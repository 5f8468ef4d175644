// amqp-tools (rabbitmq-c's command line clients, Debian package amqp-tools) against bin/warren.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cleanEnv, startWarren } from './helpers/warren-process.js';

const DECLARE = '/usr/bin/amqp-declare-queue';

function run(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(DECLARE, args, { env: cleanEnv(), timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

const skip = existsSync(DECLARE) ? false : 'amqp-tools is not installed (apt-get install amqp-tools; .ci/run installs it)';

t.test('rabbitmq-c logs in, declares a queue, and is refused with a wrong password', { skip }, async (t) => {
  const w = await startWarren(t);
  const ok = await run([`--url=amqp://guest:guest@127.0.0.1:${w.port}`, '-q', 'test']);
  t.equal(ok.code, 0, ok.output);
  t.equal(ok.output, 'test\n', 'amqp-declare-queue prints the declared name');
  const bad = await run([`--url=amqp://guest:wrong@127.0.0.1:${w.port}`, '-q', 'test']);
  t.not(bad.code, 0);
  t.match(bad.output, /server connection error 403, message: ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/);
});
