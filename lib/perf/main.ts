/**
 * bin/warren-perf: parse the options, run (lib/perf/perf-run.ts), print the
 * progress lines on stderr and the summary on stdout (or JSON with --json).
 * Ctrl-C ends the measurement early and still prints the summary.
 */
import { writeFileSync } from 'node:fs';
import { parsePerfOptions, usage } from './perf-options.js';
import { formatSummary } from './perf-report.js';
import { runPerf } from './perf-run.js';

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(usage());
    return 0;
  }
  let options;
  try {
    options = parsePerfOptions(argv);
  } catch (err) {
    process.stderr.write(`warren-perf: ${(err as Error).message}\n`);
    return 64; // EX_USAGE, as warrenctl
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await runPerf(options, {
      signal: stop.signal,
      ...(options.quiet ? {} : { progress: (line: string) => process.stderr.write(`${line}\n`) }),
    });
    if (options.json === '-') process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(`${formatSummary(result)}\n`);
      if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`warren-perf: ${(err as Error).message}\n`);
    return 69; // EX_UNAVAILABLE
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
