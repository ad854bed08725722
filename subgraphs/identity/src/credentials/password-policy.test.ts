import { CredentialErrorCode } from './error-codes';
import { createPasswordPolicy, personalFragments } from './password-policy';

const policy = createPasswordPolicy();
const owner = { email: 'jane.doe@example.com', name: 'Jane Doe' };
const codes = (password: string, who = owner) => {
  const result = policy.check(password, who);
  return result.ok ? [] : result.errors.map((error) => error.code);
};

describe('createPasswordPolicy', () => {
  it('accepts a strong passphrase', () => {
    expect(policy.check('velvet orbit cactus lantern', owner)).toEqual({ ok: true });
  });

  it('refuses a short password with a field error', () => {
    const result = policy.check('k9#Vx!2q', owner);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toContainEqual({
      field: 'password',
      code: CredentialErrorCode.PASSWORD_TOO_SHORT,
      message: 'Password must be at least 12 characters long.',
    });
  });

  it("refuses a common password and passes on zxcvbn's feedback", () => {
    const result = policy.check('password123456', owner);
    expect(result.ok).toBe(false);
    const weak = !result.ok && result.errors.find((e) => e.code === CredentialErrorCode.PASSWORD_TOO_WEAK);
    expect(weak).toBeTruthy();
    expect(weak && weak.message).toMatch(
      /^Password is too easy to guess\. This is similar to a commonly used/,
    );
  });

  it('refuses a password containing the e-mail local part even when zxcvbn would rate it strong', () => {
    // zxcvbn scores this 3 on its own; the explicit check is what refuses it.
    expect(codes('Jane.Doe.2024!!xq')).toEqual([CredentialErrorCode.PASSWORD_CONTAINS_PERSONAL_DATA]);
    expect(codes('velvet-JANEDOE-orbit-cactus')).toContain(
      CredentialErrorCode.PASSWORD_CONTAINS_PERSONAL_DATA,
    );
  });

  it('refuses a password containing a word of the name', () => {
    expect(codes('velvet orbit doe cactus', { email: 'x@example.com', name: 'Jane Doe' })).toContain(
      CredentialErrorCode.PASSWORD_CONTAINS_PERSONAL_DATA,
    );
  });

  it('refuses an over-long password without estimating it', () => {
    const started = performance.now();
    expect(codes('aB3$'.repeat(40))).toEqual([CredentialErrorCode.PASSWORD_TOO_LONG]);
    // Estimating 160 characters takes over a second with the library defaults; refusing first takes microseconds.
    // The bound only separates the two, with room for a busy CI machine.
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('bounds the estimator cost of a 128-character password', () => {
    const started = performance.now();
    policy.check('Tr0ub4dour&3xx'.repeat(9).slice(0, 128), owner);
    // Library defaults took 1.3-1.7 s here; the bounded estimator takes tens of ms (generous for a busy CI).
    expect(performance.now() - started).toBeLessThan(600);
  });

  it('honours its options', () => {
    const lenient = createPasswordPolicy({ minLength: 8, minScore: 1 });
    expect(lenient.check('k9#Vx!2q')).toEqual({ ok: true });
    expect(() => createPasswordPolicy({ minLength: 20, maxLength: 10 })).toThrow(RangeError);
  });
});

describe('personalFragments', () => {
  it('splits the local part and the name into pieces of three or more characters', () => {
    expect(personalFragments({ email: 'J.Doe+news1987@example.com', name: 'Ana María de la Cruz' })).toEqual([
      'j.doe+news1987',
      'doe',
      'news',
      '1987',
      'anamaríadelacruz',
      'ana',
      'maría',
      'cruz',
    ]);
  });
});
