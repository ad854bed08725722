import * as argon2 from 'argon2';

export interface Argon2idParams {
  /** Memory in KiB. */
  memoryCost: number;
  /** Iterations. */
  timeCost: number;
  /** Lanes. */
  parallelism: number;
}

/** OWASP Password Storage Cheat Sheet's argon2id baseline: 19 MiB, 2 iterations, 1 lane. */
export const OWASP_ARGON2ID: Readonly<Argon2idParams> = Object.freeze({
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});

export interface PasswordHasher {
  /** Returns a PHC string (`$argon2id$v=19$m=19456,p=1,t=2$<salt>$<hash>`) that embeds its own parameters. */
  hash(password: string): Promise<string>;
  /** True only for a matching password; false for a wrong password or a malformed/foreign hash, never throws. */
  verify(hash: string, password: string): Promise<boolean>;
  /** True when the hash was made with other parameters or another algorithm and should be replaced on next login. */
  needsRehash(hash: string): boolean;
}

export function createPasswordHasher(params: Argon2idParams = OWASP_ARGON2ID): PasswordHasher {
  const options = {
    type: argon2.argon2id,
    memoryCost: params.memoryCost,
    timeCost: params.timeCost,
    parallelism: params.parallelism,
  } as const;

  return {
    hash: (password) => argon2.hash(password, options),

    async verify(hash, password) {
      if (!hash.startsWith('$argon2')) return false;
      try {
        return await argon2.verify(hash, password);
      } catch {
        // Malformed PHC strings throw inside argon2; to the caller they are simply not a match.
        return false;
      }
    },

    needsRehash(hash) {
      if (!hash.startsWith('$argon2id$')) return true;
      try {
        return argon2.needsRehash(hash, options);
      } catch {
        return true;
      }
    },
  };
}
