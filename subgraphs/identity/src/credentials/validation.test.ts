import { CredentialErrorCode } from './error-codes';
import { createPasswordPolicy } from './password-policy';
import { parseLoginInput, validateRegistrationInput } from './validation';

const policy = createPasswordPolicy();

describe('validateRegistrationInput', () => {
  it('cleans valid input: e-mail trimmed and lower-cased, name trimmed, password untouched', () => {
    expect(
      validateRegistrationInput(
        { email: '  Jane.Doe@Example.COM ', password: ' velvet orbit cactus lantern ', name: '  Jane Doe ' },
        policy,
      ),
    ).toEqual({
      ok: true,
      value: { email: 'jane.doe@example.com', password: ' velvet orbit cactus lantern ', name: 'Jane Doe' },
    });
  });

  it('reports every field at once, policy errors included, without echoing values', () => {
    const result = validateRegistrationInput(
      { email: 'not-an-email', password: 'short', name: 'Bad\u0007Name' },
      policy,
    );
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    expect(errors.map(({ field, code }) => ({ field, code }))).toEqual(
      expect.arrayContaining([
        { field: 'email', code: CredentialErrorCode.EMAIL_INVALID },
        { field: 'name', code: CredentialErrorCode.NAME_INVALID },
        { field: 'password', code: CredentialErrorCode.PASSWORD_TOO_SHORT },
      ]),
    );
    expect(JSON.stringify(errors)).not.toMatch(/not-an-email|short"|Bad/);
  });

  it('judges the password against the cleaned e-mail and name', () => {
    const result = validateRegistrationInput(
      { email: 'MARGOT.Lindqvist@example.com', password: 'velvet margot orbit cactus', name: 'M L' },
      policy,
    );
    expect(!result.ok && result.errors.map((e) => e.code)).toContain(
      CredentialErrorCode.PASSWORD_CONTAINS_PERSONAL_DATA,
    );
  });

  it.each([
    ['email over 254 characters', { email: `${'a'.repeat(60)}@${'b'.repeat(200)}.com` }, 'email'],
    ['local part over 64 characters', { email: `${'a'.repeat(65)}@example.com` }, 'email'],
    ['empty name', { name: '   ' }, 'name'],
    ['name over 100 characters', { name: 'n'.repeat(101) }, 'name'],
    ['bidi override in the name', { name: 'Jane \u202Eeod' }, 'name'],
  ])('refuses %s', (_label, override, field) => {
    const input = {
      email: 'a@example.com',
      password: 'velvet orbit cactus lantern',
      name: 'Ann',
      ...override,
    };
    const result = validateRegistrationInput(input, policy);
    expect(!result.ok && result.errors.map((e) => e.field)).toEqual([field]);
  });

  it('caps the password at 128 characters before any estimate', () => {
    const result = validateRegistrationInput(
      { email: 'a@example.com', password: 'x'.repeat(129), name: 'Ann' },
      policy,
    );
    expect(!result.ok && result.errors).toEqual([
      { field: 'password', code: CredentialErrorCode.PASSWORD_TOO_LONG, message: expect.any(String) },
    ]);
  });

  it('maps a missing password and a non-object input', () => {
    const missing = validateRegistrationInput({ email: 'a@example.com', name: 'Ann' }, policy);
    expect(!missing.ok && missing.errors.map((e) => e.code)).toEqual([CredentialErrorCode.PASSWORD_REQUIRED]);
    const garbage = validateRegistrationInput('nope', policy);
    expect(!garbage.ok && garbage.errors.map((e) => e.code)).toEqual([CredentialErrorCode.INPUT_INVALID]);
  });
});

describe('parseLoginInput', () => {
  it('normalises the e-mail and does not apply the password policy', () => {
    expect(parseLoginInput({ email: ' A@Example.com', password: 'short' })).toEqual({
      ok: true,
      value: { email: 'a@example.com', password: 'short' },
    });
  });

  it('refuses an empty or over-long password', () => {
    expect(parseLoginInput({ email: 'a@example.com', password: '' })).toMatchObject({
      ok: false,
      errors: [{ field: 'password', code: CredentialErrorCode.PASSWORD_REQUIRED }],
    });
    expect(parseLoginInput({ email: 'a@example.com', password: 'x'.repeat(129) })).toMatchObject({
      ok: false,
      errors: [{ field: 'password', code: CredentialErrorCode.PASSWORD_TOO_LONG }],
    });
  });
});
