import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { concerns } from './concerns';
import { DEVELOPMENT_SECRETS, ensureDevelopmentSecrets } from './dev-secrets';
import { loadConfig } from './load-config';

// Issue #14: outside production, `npm start` generates the secrets once per install instead of using published ones.
describe('ensureDevelopmentSecrets', () => {
  let keyDir: string;
  beforeEach(() => {
    keyDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-dev-secrets-')), 'keys');
  });
  afterEach(() => {
    fs.rmSync(path.dirname(keyDir), { recursive: true, force: true });
  });

  it('generates each unset secret once, private to the owner, and reads the same values on the next start', () => {
    const first: NodeJS.ProcessEnv = { NODE_ENV: 'development' };
    expect(ensureDevelopmentSecrets({ env: first, keyDir }).sort()).toEqual([
      'ENCRYPTION_KEYS',
      'STORAGE_SIGNING_SECRET',
      'SUBGRAPH_SECRET',
    ]);
    // The generated key is one the config accepts.
    expect(loadConfig({ crypto: concerns.crypto }, first).crypto.ENCRYPTION_KEYS).toBe(first.ENCRYPTION_KEYS);
    expect(first.STORAGE_SIGNING_SECRET!.length).toBeGreaterThanOrEqual(32);
    for (const { file } of Object.values(DEVELOPMENT_SECRETS)) {
      expect(fs.statSync(path.join(keyDir, file)).mode & 0o077).toBe(0);
    }
    expect(fs.statSync(keyDir).mode & 0o077).toBe(0);

    const restart: NodeJS.ProcessEnv = {};
    ensureDevelopmentSecrets({ env: restart, keyDir });
    expect(restart).toEqual({
      ENCRYPTION_KEYS: first.ENCRYPTION_KEYS,
      STORAGE_SIGNING_SECRET: first.STORAGE_SIGNING_SECRET,
      SUBGRAPH_SECRET: first.SUBGRAPH_SECRET,
    });

    // Another install gets other secrets.
    const elsewhere: NodeJS.ProcessEnv = {};
    ensureDevelopmentSecrets({ env: elsewhere, keyDir: `${keyDir}-other` });
    expect(elsewhere.ENCRYPTION_KEYS).not.toBe(first.ENCRYPTION_KEYS);
    expect(elsewhere.STORAGE_SIGNING_SECRET).not.toBe(first.STORAGE_SIGNING_SECRET);
    fs.rmSync(`${keyDir}-other`, { recursive: true, force: true });
  });

  it('leaves configured secrets alone and does nothing in production', () => {
    const mine = { ENCRYPTION_KEYS: 'mine:x', STORAGE_SIGNING_SECRET: 'mine', SUBGRAPH_SECRET: 'mine too' };
    const configured: NodeJS.ProcessEnv = { ...mine };
    expect(ensureDevelopmentSecrets({ env: configured, keyDir })).toEqual([]);
    expect(configured).toEqual(mine);

    const production: NodeJS.ProcessEnv = { NODE_ENV: 'production' };
    expect(ensureDevelopmentSecrets({ env: production, keyDir })).toEqual([]);
    expect(production).toEqual({ NODE_ENV: 'production' });
    expect(fs.existsSync(keyDir)).toBe(false);
  });
});
