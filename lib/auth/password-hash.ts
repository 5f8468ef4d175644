/**
 * RabbitMQ-compatible password hashes, so users exported from RabbitMQ
 * (definitions JSON `password_hash` + `hashing_algorithm`) log in unchanged.
 *
 * The scheme, as implemented by RabbitMQ's rabbit_password module:
 *
 *   salt          = 4 random bytes
 *   password_hash = base64( salt ++ H(salt ++ utf8(password)) )
 *
 * where H is SHA-256 (rabbit_password_hashing_sha256, the default since
 * 3.6.0), SHA-512 or MD5 (the pre-3.6 legacy scheme). Checking splits the
 * stored value as <<Salt:4/binary, Hash/binary>> and compares Hash with
 * H(Salt ++ password); anything shorter than the salt (in particular the
 * empty hash RabbitMQ stores for a passwordless user) never matches.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type HashingAlgorithm =
  | 'rabbit_password_hashing_sha256'
  | 'rabbit_password_hashing_sha512'
  | 'rabbit_password_hashing_md5';

/** RabbitMQ's default (`password_hashing_module`) since 3.6.0. */
export const DEFAULT_HASHING_ALGORITHM: HashingAlgorithm = 'rabbit_password_hashing_sha256';

/**
 * The algorithm RabbitMQ assumes for a stored user without one: users written
 * before 3.6.0 carry no algorithm and were hashed with MD5
 * (rabbit_password:hashing_mod(undefined)).
 */
export const LEGACY_HASHING_ALGORITHM: HashingAlgorithm = 'rabbit_password_hashing_md5';

export const SALT_LENGTH = 4;

const DIGESTS: Record<HashingAlgorithm, { node: string; length: number }> = {
  rabbit_password_hashing_sha256: { node: 'sha256', length: 32 },
  rabbit_password_hashing_sha512: { node: 'sha512', length: 64 },
  rabbit_password_hashing_md5: { node: 'md5', length: 16 },
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isHashingAlgorithm(name: unknown): name is HashingAlgorithm {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(DIGESTS, name);
}

function digest(algorithm: HashingAlgorithm, salt: Buffer, password: string): Buffer {
  return createHash(DIGESTS[algorithm].node).update(salt).update(password, 'utf8').digest();
}

/**
 * Hash a password the way `rabbitmqctl add_user` does. `salt` (4 bytes) is
 * for reproducible tests and imports; by default it is random.
 */
export function hashPassword(
  password: string,
  algorithm: HashingAlgorithm = DEFAULT_HASHING_ALGORITHM,
  salt: Buffer = randomBytes(SALT_LENGTH),
): string {
  if (!isHashingAlgorithm(algorithm)) throw new TypeError(`unknown password hashing algorithm '${String(algorithm)}'`);
  if (!Buffer.isBuffer(salt) || salt.length !== SALT_LENGTH) {
    throw new RangeError(`password salt must be ${SALT_LENGTH} bytes`);
  }
  return Buffer.concat([salt, digest(algorithm, salt, password)]).toString('base64');
}

/**
 * Whether `password` matches `passwordHash`. Never throws: an empty,
 * non-base64 or wrong-length hash, or an unknown algorithm, is simply false.
 * The digest comparison is constant-time.
 */
export function checkPassword(
  password: string,
  passwordHash: string,
  algorithm: HashingAlgorithm = DEFAULT_HASHING_ALGORITHM,
): boolean {
  if (typeof password !== 'string' || typeof passwordHash !== 'string') return false;
  if (!isHashingAlgorithm(algorithm)) return false;
  if (passwordHash.length === 0 || passwordHash.length % 4 !== 0 || !BASE64.test(passwordHash)) return false;
  const stored = Buffer.from(passwordHash, 'base64');
  if (stored.length !== SALT_LENGTH + DIGESTS[algorithm].length) return false;
  const salt = stored.subarray(0, SALT_LENGTH);
  const expected = stored.subarray(SALT_LENGTH);
  return timingSafeEqual(expected, digest(algorithm, salt, password));
}
