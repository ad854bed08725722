import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as zxcvbnCommon from '@zxcvbn-ts/language-common';
import * as zxcvbnEn from '@zxcvbn-ts/language-en';
import { CredentialErrorCode, type FieldError } from './error-codes';

export interface PasswordPolicyOptions {
  /** Minimum length in characters. Default 12. */
  minLength?: number;
  /** Maximum length in characters; bounds the argon2 input. Default 128. */
  maxLength?: number;
  /** Minimum zxcvbn score (0 weakest .. 4 strongest). Default 3 ("safely unguessable" for online attacks). */
  minScore?: 0 | 1 | 2 | 3 | 4;
}

/** The user's own data, which a password must not be built from. */
export interface PasswordOwner {
  email?: string | null;
  name?: string | null;
}

export type PasswordCheckResult = { ok: true } | { ok: false; errors: FieldError[] };

export interface PasswordPolicy {
  readonly minLength: number;
  readonly maxLength: number;
  /** All problems at once, as `password` field errors a form can show; never echoes the password. */
  check(password: string, owner?: PasswordOwner): PasswordCheckResult;
}

/**
 * zxcvbn cost grows steeply with length and l33t substitutions: measured here, a 128-character password with
 * the library defaults (256 characters, 100 substitutions) took 1.3–1.7 s of blocking CPU, an easy DoS on the
 * register/reset mutations. Estimating the first 64 characters with at most 8 substitutions bounds it to tens of
 * milliseconds; characters beyond 64 only make a password stronger, so the estimate stays conservative.
 */
const ESTIMATE_MAX_LENGTH = 64;
const ESTIMATE_MAX_L33T_SUBSTITUTIONS = 8;

/** Personal-data fragments shorter than this match too many unrelated passwords to be worth refusing. */
const MIN_PERSONAL_FRAGMENT_LENGTH = 3;

let estimator: ZxcvbnFactory | undefined;

/** The dictionaries are a few MB: load them once per process, on first use. */
function strengthEstimator(): ZxcvbnFactory {
  estimator ??= new ZxcvbnFactory({
    dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnEn.dictionary },
    graphs: zxcvbnCommon.adjacencyGraphs,
    translations: zxcvbnEn.translations,
    maxLength: ESTIMATE_MAX_LENGTH,
    l33tMaxSubstitutions: ESTIMATE_MAX_L33T_SUBSTITUTIONS,
  });
  return estimator;
}

/** Lower-cased fragments of the user's own data: the e-mail local part and its pieces, the name and its words. */
export function personalFragments(owner: PasswordOwner = {}): string[] {
  const fragments = new Set<string>();
  const add = (value: string) => {
    const fragment = value.trim().toLowerCase();
    if (fragment.length >= MIN_PERSONAL_FRAGMENT_LENGTH) fragments.add(fragment);
  };
  const email = owner.email?.trim() ?? '';
  const at = email.lastIndexOf('@');
  const localPart = at > 0 ? email.slice(0, at) : email;
  if (localPart) {
    add(localPart);
    // "jane.doe+news" -> "jane", "doe", "news"; digits split off too ("jdoe1987" -> "jdoe", "1987").
    localPart.split(/[^\p{L}\p{N}]+|(?<=\p{L})(?=\p{N})|(?<=\p{N})(?=\p{L})/u).forEach(add);
  }
  const name = owner.name?.trim() ?? '';
  if (name) {
    add(name.replace(/\s+/g, ''));
    name.split(/[^\p{L}\p{N}]+/u).forEach(add);
  }
  return [...fragments];
}

export function createPasswordPolicy(options: PasswordPolicyOptions = {}): PasswordPolicy {
  const { minLength = 12, maxLength = 128, minScore = 3 } = options;
  if (
    !Number.isInteger(minLength) ||
    minLength < 1 ||
    !Number.isInteger(maxLength) ||
    maxLength < minLength
  ) {
    throw new RangeError(`invalid password length bounds ${minLength}..${maxLength}`);
  }

  return {
    minLength,
    maxLength,

    check(password, owner = {}) {
      const errors: FieldError[] = [];
      const fail = (code: CredentialErrorCode, message: string) =>
        errors.push({ field: 'password', code, message });

      if (password.length < minLength) {
        fail(
          CredentialErrorCode.PASSWORD_TOO_SHORT,
          `Password must be at least ${minLength} characters long.`,
        );
      }
      if (password.length > maxLength) {
        // Stop here: an over-long input is refused outright and never reaches the (costly) estimator.
        fail(CredentialErrorCode.PASSWORD_TOO_LONG, `Password must be at most ${maxLength} characters long.`);
        return { ok: false, errors };
      }

      const lowered = password.toLowerCase();
      const fragments = personalFragments(owner);
      if (fragments.some((fragment) => lowered.includes(fragment))) {
        fail(
          CredentialErrorCode.PASSWORD_CONTAINS_PERSONAL_DATA,
          'Password must not contain your name or the first part of your email address.',
        );
      }

      // The owner's data also goes in as zxcvbn user inputs, so near-misses ("j4ne") score as guessable.
      const userInputs = [owner.email?.trim(), owner.name?.trim(), ...fragments].filter(
        (value): value is string => Boolean(value),
      );
      const { score, feedback } = strengthEstimator().check(password, userInputs);
      if (score < minScore) {
        const advice = [feedback.warning, ...feedback.suggestions].filter(Boolean).join(' ');
        fail(
          CredentialErrorCode.PASSWORD_TOO_WEAK,
          `Password is too easy to guess.${advice ? ` ${advice}` : ' Use a longer phrase of uncommon words.'}`,
        );
      }

      return errors.length === 0 ? { ok: true } : { ok: false, errors };
    },
  };
}

/**
 * The policy in force, resolved per use: a changed `security.passwordMinLength` setting applies to the next
 * sign-up, reset or change without a restart. Services accept a fixed policy or a source.
 */
export type PasswordPolicySource = () => Promise<PasswordPolicy>;

/** The policy for `source` now: `source` itself when it is a fixed policy. */
export async function resolvePasswordPolicy(
  source: PasswordPolicy | PasswordPolicySource,
): Promise<PasswordPolicy> {
  return typeof source === 'function' ? source() : source;
}

/**
 * A source whose minimum length is read on every use (other options fixed). One policy per distinct length is
 * kept, so the length lookup (cached by the settings store) is the only per-use cost.
 */
export function livePasswordPolicy(
  minLength: () => Promise<number>,
  options: Omit<PasswordPolicyOptions, 'minLength'> = {},
): PasswordPolicySource {
  const byLength = new Map<number, PasswordPolicy>();
  return async () => {
    const length = await minLength();
    let policy = byLength.get(length);
    if (!policy) {
      policy = createPasswordPolicy({ ...options, minLength: length });
      byLength.set(length, policy);
    }
    return policy;
  };
}
