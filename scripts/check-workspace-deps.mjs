#!/usr/bin/env node
// Fails when a workspace imports a package its package.json does not declare. npm workspaces hoist everything
// to the root node_modules, so an undeclared import works locally and breaks a pruned production image.
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';

const root = path.resolve(import.meta.dirname, '..');
const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const workspaces = rootPkg.workspaces
  .flatMap((pattern) =>
    pattern.endsWith('/*')
      ? fs.readdirSync(path.join(root, pattern.slice(0, -2))).map((d) => path.join(pattern.slice(0, -2), d))
      : [pattern],
  )
  .filter((dir) => fs.existsSync(path.join(root, dir, 'package.json')));

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const importRe =
  /(?:^|\s)(?:import|export)\s[^'"]*?from\s+'([^'.][^']*)'|(?:require|import)\(\s*'([^'.][^']*)'\s*\)/gm;
let problems = 0;

function* sourceFiles(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'generated' && entry.name !== 'node_modules') yield* sourceFiles(full);
    } else if (/\.(ts|mts|cts|js|mjs)$/.test(entry.name)) yield full;
  }
}

for (const dir of workspaces) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
  // A peer dependency is the host application's copy (graphql for Apollo Client users): declared, and one copy.
  const runtime = new Set([
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
  ]);
  const dev = new Set(Object.keys(pkg.devDependencies ?? {}));
  const src = path.join(root, dir, 'src');
  if (!fs.existsSync(src)) continue;
  for (const file of sourceFiles(src)) {
    const isTest = /\.(test|contract|browser-test)\.ts$|test-support\.ts$|\/__tests__\//.test(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(importRe)) {
      const spec = match[1] ?? match[2];
      if (!spec || builtins.has(spec) || spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (name === pkg.name) continue;
      if (runtime.has(name) || (isTest && dev.has(name))) continue;
      problems += 1;
      const where = path.relative(root, file);
      console.error(
        `${where}: imports "${name}", which ${pkg.name} does not declare${isTest ? ' (dependencies or devDependencies)' : ' in dependencies'}`,
      );
    }
  }
}
if (problems > 0) process.exit(1);
console.log(`workspace dependencies: ${workspaces.length} workspaces, all imports declared`);
