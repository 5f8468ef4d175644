// Poll a condition every 20 ms; resolves true once it holds, false after
// timeoutMs (the caller asserts, so a timeout fails with its own message).
export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
