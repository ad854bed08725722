#!/bin/sh
# Stand-in for Prisma's native schema-engine binary, which the CLI would otherwise download.
# `prisma generate|validate|format` never call it; anything that does fails loudly here instead of
# hanging on a download. Migrations: use scripts/prisma-migrate-offline.mjs (WASM schema engine).
echo "Gatehouse: the native Prisma schema engine is not used; run 'npm run db:new-migration -- <name>' or 'node scripts/prisma-migrate-offline.mjs'." >&2
exit 1
