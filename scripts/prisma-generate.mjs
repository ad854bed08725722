#!/usr/bin/env node
// Root postinstall: generate the Prisma client into packages/db/src/generated/prisma.
// Works offline: the native schema engine is replaced by a stub (generate never needs it) and the
// telemetry ping is disabled. The prisma-client generator needs no engine binary at run time.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));

let cli;
try {
  cli = require.resolve('prisma/build/index.js');
} catch {
  // `npm ci --omit=dev` (production image) has no Prisma CLI; the image copies a generated client instead.
  console.warn('prisma-generate: the prisma CLI is not installed; skipping client generation.');
  process.exit(0);
}

const result = spawnSync(process.execPath, [cli, 'generate', '--schema', 'prisma/schema'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: path.join(root, 'scripts', 'no-schema-engine.sh'),
    CHECKPOINT_DISABLE: '1',
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  },
});
if (result.error) throw result.error;
process.exit(result.status ?? 1);
