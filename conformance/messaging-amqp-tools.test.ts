// Messaging with amqp-tools (rabbitmq-c's command line clients, Debian package
// amqp-tools 0.11, unmodified): declare, publish, get, consume, delete — each
// scenario asserting the exact output and exit code they give against
// RabbitMQ 3.10 (checked with CONFORMANCE_AMQP_URL pointing at
// tools/rabbitmq-scratch.sh).
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cleanEnv } from './helpers/warren-process.js';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';

const TOOLS = ['amqp-declare-queue', 'amqp-publish', 'amqp-consume', 'amqp-get', 'amqp-delete-queue'] as const;
type Tool = (typeof TOOLS)[number];

const missing = TOOLS.filter((tool) => !existsSync(`/usr/bin/${tool}`));
const skip = missing.length === 0 ? false : `amqp-tools is not installed (${missing.join(', ')} missing; apt-get install amqp-tools; .ci/run installs it)`;

interface Run {
  /** exit code, or the signal name if it was killed (the 10 s timeout) */
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Set once a tool had to be killed: the later runs fail at once instead of waiting too. */
let hung: string | null = null;

/** Run one tool to completion with stdin = input (closed at once when none). */
function run(tool: Tool, args: string[], input = ''): Promise<Run> {
  if (hung) return Promise.resolve({ code: 'not run', stdout: '', stderr: `an earlier run hung: ${hung}` });
  return new Promise((resolve) => {
    const child = execFile(`/usr/bin/${tool}`, args, { env: cleanEnv(), timeout: 10_000 }, (err, stdout, stderr) => {
      let code: number | string = 0;
      if (err) {
        const e = err as NodeJS.ErrnoException & { code?: number | string; signal?: string | null };
        code = typeof e.code === 'number' ? e.code : (e.signal ?? String(e.code ?? 'error'));
        if (e.signal) hung = `${tool} ${args.slice(1).join(' ')} killed by ${e.signal}`;
      }
      resolve({ code, stdout, stderr });
    });
    // a tool that does not read stdin may exit before the write lands: ignore EPIPE
    child.stdin?.on('error', () => {});
    if (input) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

t.test('amqp-tools messaging', { skip }, async (t) => {
  const broker = await brokerUnderTest(t);
  const url = `--url=${broker.url}`;
  const ok = (stdout: string): Run => ({ code: 0, stdout, stderr: '' });
  const channelError = (method: string, code: number, text: string): Run => ({
    code: 1,
    stdout: '',
    stderr: `${method}: server channel error ${code}, message: ${text}\n`,
  });

  t.test('amqp-declare-queue prints the queue name; an empty -q gets a server-generated one', async (t) => {
    const q = uniqueName('tools.declare');
    t.strictSame(await run('amqp-declare-queue', [url, '-q', q, '-d']), ok(`${q}\n`), 'durable queue declared, its name printed');
    t.strictSame(await run('amqp-declare-queue', [url, '-q', q, '-d']), ok(`${q}\n`), 'redeclared the same way: same output');
    t.strictSame(
      await run('amqp-declare-queue', [url, '-q', q]),
      channelError('queue.declare', 406, `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'false' but current is 'true'`),
      'redeclared non-durable: 406',
    );
    const generated = await run('amqp-declare-queue', [url, '-q', '']);
    t.equal(generated.code, 0);
    t.match(generated.stdout, /^amq\.gen-[A-Za-z0-9_-]{22}\n$/, 'server-named: amq.gen- and 22 base64url characters');
    t.equal(generated.stderr, '');
    t.strictSame(
      await run('amqp-declare-queue', [url, '-q', 'amq.foo']),
      channelError('queue.declare', 403, "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'"),
    );
    t.strictSame(await run('amqp-delete-queue', [url, '-q', q]), ok('0\n'));
  });

  t.test('amqp-publish -b then amqp-get: bodies in order, then an empty queue', async (t) => {
    const q = uniqueName('tools.get');
    t.strictSame(await run('amqp-declare-queue', [url, '-q', q]), ok(`${q}\n`));
    for (const body of ['hello', 'hello2', 'hello3']) t.strictSame(await run('amqp-publish', [url, '-r', q, '-b', body]), ok(''), `published ${body}`);
    t.strictSame(await run('amqp-get', [url, '-q', q]), ok('hello'), 'the body, as is (no newline added)');
    t.strictSame(await run('amqp-get', [url, '-q', q]), ok('hello2'));
    t.strictSame(await run('amqp-get', [url, '-q', q]), ok('hello3'));
    t.strictSame(await run('amqp-get', [url, '-q', q]), { code: 2, stdout: '', stderr: '' }, 'basic.get-empty: exit 2, prints nothing');
    t.strictSame(
      await run('amqp-get', [url, '-q', `${q}.missing`]),
      channelError('basic.get', 404, `NOT_FOUND - no queue '${q}.missing' in vhost '/'`),
    );
    // the body from stdin, and one message per line with -l (the newline kept)
    t.strictSame(await run('amqp-publish', [url, '-r', q], 'from stdin'), ok(''));
    t.strictSame(await run('amqp-publish', [url, '-r', q, '-l'], 'l1\nl2\n'), ok(''));
    t.strictSame(await run('amqp-get', [url, '-q', q]), ok('from stdin'));
    t.strictSame(await run('amqp-get', [url, '-q', q]), ok('l1\n'));
    t.strictSame(await run('amqp-get', [url, '-q', q]), ok('l2\n'));
    t.strictSame(await run('amqp-delete-queue', [url, '-q', q]), ok('0\n'));
  });

  t.test('amqp-consume -c 3 cat: three messages in order; the rest stay queued', async (t) => {
    const q = uniqueName('tools.consume');
    t.strictSame(await run('amqp-declare-queue', [url, '-q', q]), ok(`${q}\n`));
    for (let i = 1; i <= 5; i++) t.strictSame(await run('amqp-publish', [url, '-r', q, '-b', `c${i}\n`]), ok(''));
    t.strictSame(await run('amqp-consume', [url, '-q', q, '-c', '3', 'cat']), ok('c1\nc2\nc3\n'), 'cat ran once per message, in order');
    t.strictSame(await run('amqp-get', [url, '-q', q]), ok('c4\n'), 'the next message is still first in the queue');
    t.strictSame(await run('amqp-consume', [url, '-q', q, '-c', '1', '-p', '1', 'cat']), ok('c5\n'), 'with a prefetch count');
    t.strictSame(
      await run('amqp-consume', [url, '-q', `${q}.missing`, '-c', '1', 'cat']),
      channelError('basic.consume', 404, `NOT_FOUND - no queue '${q}.missing' in vhost '/'`),
    );
    t.strictSame(await run('amqp-delete-queue', [url, '-q', q]), ok('0\n'));
  });

  t.test('amqp-publish to a missing exchange', async (t) => {
    const x = uniqueName('tools.missing');
    t.strictSame(
      await run('amqp-publish', [url, '-e', x, '-r', 'k', '-b', 'hi']),
      { code: 1, stdout: '', stderr: `closing channel: server channel error 404, message: NOT_FOUND - no exchange '${x}' in vhost '/'\n` },
      'the channel.close arrives when amqp-publish closes its channel',
    );
  });

  t.test('amqp-delete-queue prints the number of messages deleted', async (t) => {
    const q = uniqueName('tools.delete');
    t.strictSame(await run('amqp-declare-queue', [url, '-q', q]), ok(`${q}\n`));
    t.strictSame(await run('amqp-publish', [url, '-r', q, '-b', 'one']), ok(''));
    t.strictSame(await run('amqp-publish', [url, '-r', q, '-b', 'two']), ok(''));
    t.strictSame(
      await run('amqp-delete-queue', [url, '-q', q, '--if-empty']),
      channelError('queue.delete', 406, `PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty`),
    );
    t.strictSame(await run('amqp-delete-queue', [url, '-q', q]), ok('2\n'));
    t.strictSame(await run('amqp-delete-queue', [url, '-q', q]), ok('0\n'), 'deleting a missing queue is not an error');
    t.strictSame(await run('amqp-get', [url, '-q', q]), channelError('basic.get', 404, `NOT_FOUND - no queue '${q}' in vhost '/'`), 'it is gone');
  });
});
