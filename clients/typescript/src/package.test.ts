// The package as a user would get it: built, packed (`npm pack --dry-run`), importable as ESM by plain Node,
// and free of Node-only imports (the same entry serves browsers).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

jest.setTimeout(120_000);

const packageDir = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
  main: string;
  types: string;
  exports: Record<string, Record<string, string>>;
};
let files: string[];

beforeAll(() => {
  execFileSync('npm', ['run', 'build'], { cwd: packageDir, stdio: 'pipe' });
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: packageDir,
      encoding: 'utf8',
    }),
  ) as { files: { path: string }[] }[];
  files = packed[0]!.files.map((file) => file.path);
});

it('packs the built entry, its types, the README and the manifest', () => {
  expect(files).toEqual(
    expect.arrayContaining([
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/generated/sdk.js',
    ]),
  );
  for (const target of [
    manifest.main,
    manifest.types,
    manifest.exports['.']!.types,
    manifest.exports['.']!.default,
  ]) {
    expect(files).toContain(target!.replace(/^\.\//, ''));
  }
});

it('packs no tests, test support or build configuration', () => {
  expect(files.filter((file) => /\.test\.|test-support|tsconfig|\.e2e\./.test(file))).toEqual([]);
});

it('has no Node-only import in what it ships', () => {
  const shipped = (dir: string): string[] =>
    readdirSync(join(packageDir, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory()
        ? shipped(join(dir, entry.name))
        : entry.name.endsWith('.js')
          ? [join(dir, entry.name)]
          : [],
    );
  const offenders = shipped('dist').filter((file) =>
    /from ['"](node:|ws['"]|fs['"]|crypto['"]|http['"])|require\(/.test(
      readFileSync(join(packageDir, file), 'utf8'),
    ),
  );
  expect(offenders).toEqual([]);
});

it('imports as ESM in plain Node and exposes the public API', () => {
  const script = `
    const client = await import(${JSON.stringify(join(packageDir, 'dist/index.js'))});
    const names = ['createGatehouseClient', 'createSdk', 'GatehouseError', 'NetworkError', 'verifyWebhookSignature', 'MeDocument'];
    console.log(JSON.stringify(names.filter((name) => !(name in client))));`;
  const missing = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(JSON.parse(missing)).toEqual([]);
});
