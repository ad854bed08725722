import { ProfileErrorCode } from './error-codes';
import {
  canonicalLocale,
  canonicalTimeZone,
  normalizePhoneNumber,
  parseProfileUpdate,
  type ProfileUpdateValidation,
} from './validation';

function errorsOf(result: ProfileUpdateValidation) {
  if (result.ok) throw new Error(`expected field errors, got ${JSON.stringify(result.value)}`);
  return result.errors.map(({ field, code }) => ({ field, code }));
}

function valueOf(result: ProfileUpdateValidation) {
  if (!result.ok) throw new Error(`expected a valid input, got ${JSON.stringify(result.errors)}`);
  return result.value;
}

describe('parseProfileUpdate', () => {
  it('cleans and canonicalises every field', () => {
    expect(
      valueOf(
        parseProfileUpdate({
          displayName: '  <b>Ada</b>   Lovelace\u0000 ',
          bio: 'Mathematician.<script>alert(1)</script>\n\n\n\nFirst programmer.',
          phone: '+49 (30) 123-456.78',
          locale: 'EN-gb',
          timezone: 'europe/berlin',
        }),
      ),
    ).toEqual({
      displayName: 'Ada Lovelace',
      bio: 'Mathematician.\n\nFirst programmer.',
      phone: '+493012345678',
      locale: 'en-GB',
      timezone: 'Europe/Berlin',
    });
  });

  it('leaves absent fields out, and turns null (or a blank optional field) into "clear"', () => {
    expect(valueOf(parseProfileUpdate({}))).toEqual({});
    expect(valueOf(parseProfileUpdate({ bio: 'x' }))).toEqual({ bio: 'x' });
    expect(
      valueOf(parseProfileUpdate({ displayName: null, bio: '  ', phone: '', locale: ' ', timezone: null })),
    ).toEqual({ displayName: null, bio: null, phone: null, locale: null, timezone: null });
    // Markup only: nothing is left of the bio, so it is cleared.
    expect(valueOf(parseProfileUpdate({ bio: '<img src=x onerror=alert(1)>' }))).toEqual({ bio: null });
  });

  it('reports every invalid field at once, with stable codes and without the values', () => {
    const result = parseProfileUpdate({
      displayName: '<script>alert(1)</script>',
      bio: 'b'.repeat(501),
      phone: '030 123456',
      locale: 'not a locale!',
      timezone: 'Mars/Olympus_Mons',
    });
    expect(errorsOf(result)).toEqual([
      { field: 'displayName', code: ProfileErrorCode.DISPLAY_NAME_INVALID },
      { field: 'bio', code: ProfileErrorCode.BIO_TOO_LONG },
      { field: 'phone', code: ProfileErrorCode.PHONE_NUMBER_INVALID },
      { field: 'locale', code: ProfileErrorCode.LOCALE_INVALID },
      { field: 'timezone', code: ProfileErrorCode.TIMEZONE_INVALID },
    ]);
    if (result.ok) throw new Error('unreachable');
    for (const error of result.errors) {
      expect(error.message).not.toMatch(/script|bbbb|030|Olympus|not a locale/);
      expect(error.message.length).toBeGreaterThan(10);
    }
  });

  it('counts lengths in characters after cleaning', () => {
    expect(valueOf(parseProfileUpdate({ displayName: 'n'.repeat(100) })).displayName).toHaveLength(100);
    expect(errorsOf(parseProfileUpdate({ displayName: 'n'.repeat(101) }))).toEqual([
      { field: 'displayName', code: ProfileErrorCode.DISPLAY_NAME_INVALID },
    ]);
    // 100 emoji are 200 UTF-16 units but 100 characters.
    expect(parseProfileUpdate({ displayName: '\u{1F600}'.repeat(100) }).ok).toBe(true);
    // Markup that is removed does not count against the limit.
    expect(valueOf(parseProfileUpdate({ bio: `<i>${'b'.repeat(500)}</i>` })).bio).toHaveLength(500);
    expect(errorsOf(parseProfileUpdate({ displayName: '' }))).toEqual([
      { field: 'displayName', code: ProfileErrorCode.DISPLAY_NAME_INVALID },
    ]);
    // Raw input is bounded too, before any cleaning work.
    expect(errorsOf(parseProfileUpdate({ bio: `<i>${'b'.repeat(10_000)}` }))).toEqual([
      { field: 'bio', code: ProfileErrorCode.BIO_TOO_LONG },
    ]);
  });

  it('refuses unknown fields, wrong types and non-objects as INPUT_INVALID', () => {
    expect(errorsOf(parseProfileUpdate({ email: 'x@example.test', avatarKey: 'public/x' }))).toEqual([
      { field: 'email', code: ProfileErrorCode.INPUT_INVALID },
      { field: 'avatarKey', code: ProfileErrorCode.INPUT_INVALID },
    ]);
    expect(errorsOf(parseProfileUpdate({ displayName: 42 }))).toEqual([
      { field: 'displayName', code: ProfileErrorCode.INPUT_INVALID },
    ]);
    expect(errorsOf(parseProfileUpdate('displayName'))).toEqual([
      { field: '', code: ProfileErrorCode.INPUT_INVALID },
    ]);
  });
});

describe('field rules', () => {
  it('accepts E.164 numbers only', () => {
    expect(normalizePhoneNumber('+1 (415) 555-0100')).toBe('+14155550100');
    expect(normalizePhoneNumber('+44 20 7946 0958')).toBe('+442079460958');
    for (const invalid of ['4155550100', '+0123456789', '+1234', '+1234567890123456', '+49 30 12a456', '']) {
      expect({ invalid, normalized: normalizePhoneNumber(invalid) }).toEqual({ invalid, normalized: null });
    }
  });

  it('canonicalises BCP 47 tags and refuses malformed ones', () => {
    expect(canonicalLocale('en-gb')).toBe('en-GB');
    expect(canonicalLocale('ZH-hant-tw')).toBe('zh-Hant-TW');
    expect(canonicalLocale('de')).toBe('de');
    for (const invalid of ['', 'en_GB', 'englishlanguage', 'e', 'en-GB,de', '123', 'en--GB', '<script>']) {
      expect({ invalid, canonical: canonicalLocale(invalid) }).toEqual({ invalid, canonical: null });
    }
  });

  it('accepts IANA time zones and UTC, in canonical form, and refuses offsets and made-up names', () => {
    expect(canonicalTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(canonicalTimeZone('america/new_york')).toBe('America/New_York');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    expect(canonicalTimeZone('Etc/UTC')).toBe('UTC');
    expect(canonicalTimeZone('US/Pacific')).toBe('America/Los_Angeles');
    for (const invalid of ['', 'Mars/Olympus_Mons', '+01:00', 'Europe', 'CEST', '../etc/passwd']) {
      expect({ invalid, canonical: canonicalTimeZone(invalid) }).toEqual({ invalid, canonical: null });
    }
  });
});
