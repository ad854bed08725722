import * as argon2 from 'argon2';
import { OWASP_ARGON2ID, createPasswordHasher } from './password-hasher';

// Real argon2 throughout; small parameters where the OWASP cost is not what is being tested.
const fast = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('createPasswordHasher', () => {
  it('hashes with argon2id and the OWASP parameters by default', async () => {
    const hasher = createPasswordHasher();
    const hash = await hasher.hash('correct horse battery staple');

    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    await expect(hasher.verify(hash, 'correct horse battery staple')).resolves.toBe(true);
    expect(hasher.needsRehash(hash)).toBe(false);
    expect(OWASP_ARGON2ID).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
  });

  it('rejects a wrong password', async () => {
    const hasher = createPasswordHasher(fast);
    const hash = await hasher.hash('s3cret-password');
    await expect(hasher.verify(hash, 's3cret-passwore')).resolves.toBe(false);
    await expect(hasher.verify(hash, '')).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    const hasher = createPasswordHasher(fast);
    expect(await hasher.hash('same')).not.toBe(await hasher.hash('same'));
  });

  it.each([
    '',
    'not-a-hash',
    '$argon2id$v=19$m=1024,t=1,p=1$garbage',
    '$argon2id$v=19$broken',
    '$2b$10$abcdefghijk',
  ])('returns false instead of throwing for the malformed hash %p', async (malformed) => {
    await expect(createPasswordHasher(fast).verify(malformed, 'password')).resolves.toBe(false);
  });

  it('needs a rehash once the parameters change', async () => {
    const hash = await createPasswordHasher(fast).hash('password');
    expect(createPasswordHasher(fast).needsRehash(hash)).toBe(false);
    expect(createPasswordHasher({ ...fast, timeCost: 2 }).needsRehash(hash)).toBe(true);
    expect(createPasswordHasher({ ...fast, memoryCost: 2048 }).needsRehash(hash)).toBe(true);
  });

  it('needs a rehash for other argon2 variants and unparseable hashes', async () => {
    const argon2i = await argon2.hash('password', { type: argon2.argon2i, ...fast });
    const hasher = createPasswordHasher(fast);
    await expect(hasher.verify(argon2i, 'password')).resolves.toBe(true);
    expect(hasher.needsRehash(argon2i)).toBe(true);
    expect(hasher.needsRehash('$argon2id$garbage')).toBe(true);
  });
});
