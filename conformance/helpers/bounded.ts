// Time bounds for conformance scenarios driven through client libraries:
// every broker operation and every wait has a limit, so a broker that does
// not answer fails a file in seconds instead of hanging it. Once one bound
// has been hit, every later one is cut to DEGRADED_MS (per test file).

/** The bound on one broker operation. */
export const OP_MS = 3000;
const DEGRADED_MS = 500;
let degraded = false;
export const limit = (ms: number): number => (degraded ? Math.min(ms, DEGRADED_MS) : ms);

export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function within<T>(p: Promise<T>, what: string, ms = OP_MS): Promise<T> {
  const bound = limit(ms);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      degraded = true;
      reject(new Error(`${what}: no answer within ${bound} ms`));
    }, bound);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Poll until cond() holds; throws after ms. */
export async function until(cond: () => boolean, what: string, ms = OP_MS): Promise<void> {
  const bound = limit(ms);
  const deadline = Date.now() + bound;
  while (!cond()) {
    if (Date.now() > deadline) {
      degraded = true;
      throw new Error(`timed out after ${bound} ms waiting for ${what}`);
    }
    await sleep(5);
  }
}

/**
 * Every promise-returning method of the object, bounded by OP_MS. A refusal
 * keeps its message and fields and gains `operation` and `reply` (tap prints
 * those when a test throws).
 */
export function bounded<T extends object>(target: T, label: string): T {
  return new Proxy(target, {
    get(obj, prop) {
      const value = Reflect.get(obj, prop, obj) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const r = (value as (...a: unknown[]) => unknown).apply(obj, args);
        if (!(r instanceof Promise)) return r;
        const operation = `${label}.${String(prop)}(${args
          .filter((a) => typeof a !== 'function' && !(a instanceof Uint8Array))
          .map((a) => JSON.stringify(a, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))
          .join(', ')})`;
        return within(r, operation).catch((e: unknown) => {
          if (e instanceof Error) Object.assign(e, { operation, reply: e.message });
          throw e;
        });
      };
    },
  });
}
