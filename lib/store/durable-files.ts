/**
 * Small file operations that must be durable once they return: syncing a
 * directory (so a rename or unlink in it survives a power cut) and cutting
 * a file short. Shared by the definitions store and the message log.
 */
import { closeSync, fdatasyncSync, fsyncSync, openSync, truncateSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Errors from fsync on a directory where the platform cannot do it. */
const DIR_FSYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EBADF', 'ENOTSUP']);

function unsupported(err: unknown): boolean {
  return DIR_FSYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '');
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    if (!unsupported(err)) throw err;
  } finally {
    await fh?.close();
  }
}

export function fsyncDirSync(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (err) {
    if (!unsupported(err)) throw err;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export function truncateDurably(path: string, length: number): void {
  truncateSync(path, length);
  const fd = openSync(path, 'r+');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
