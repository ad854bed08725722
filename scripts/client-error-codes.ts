/**
 * Writes the error codes clients can switch on, from the backend's declarations, for every SDK:
 *
 *   clients/error-codes.json                         language-neutral: codes and reasons with their docs
 *   clients/typescript/src/generated/error-codes.ts  ERROR_CODES / ErrorCode, ERROR_REASONS / ErrorReason
 *
 * Codes are `extensions.code` values: @gatehouse/errors' ErrorCode, the Apollo request-error codes it passes
 * through, and the gateway's own (gateway/src/error-codes.ts). Reasons are `extensions.details.reason` values:
 * every other `export const X = { CODE: 'CODE', ... } as const` in an `error-codes.ts` of packages/, subgraphs/
 * or gateway/, and the gateway's protection refusals (gateway/src/protection/errors.ts).
 *
 * Run by `npm run codegen`; `npm run codegen:check` runs it with --check (exit 1 when an output is stale).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';
import ts from 'typescript';
import { REPOSITORY_ROOT } from '../gateway/src/subgraphs';

const ROOT = REPOSITORY_ROOT;
const JSON_FILE = path.join(ROOT, 'clients', 'error-codes.json');
const TS_FILE = path.join(ROOT, 'clients', 'typescript', 'src', 'generated', 'error-codes.ts');

/** The declarations whose values are `extensions.code`s (everything else found is a `details.reason`). */
const CODE_DECLARATIONS = new Set([
  'packages/errors/src/error-codes.ts#ErrorCode',
  'gateway/src/error-codes.ts#GatewayErrorCode',
]);
/** The Apollo request-error codes @gatehouse/errors passes through (APOLLO_CLIENT_ERROR_CODES). */
const APOLLO_SET = 'APOLLO_CLIENT_ERROR_CODES';
const EXTRA_FILES = ['gateway/src/protection/errors.ts'];

interface Entry {
  readonly name: string;
  readonly description: string;
  readonly declaredIn: string[];
}

function* errorCodeFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'generated' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* errorCodeFiles(full);
    else if (entry.name === 'error-codes.ts') yield full;
  }
}

function sourceFiles(): string[] {
  const roots = [
    ...['packages', 'subgraphs'].flatMap((group) =>
      readdirSync(path.join(ROOT, group)).map((name) => path.join(ROOT, group, name, 'src')),
    ),
    path.join(ROOT, 'gateway', 'src'),
  ];
  const found = roots.flatMap((root) => {
    try {
      return [...errorCodeFiles(root)];
    } catch {
      return [];
    }
  });
  return [...found, ...EXTRA_FILES.map((file) => path.join(ROOT, file))]
    .map((file) => path.relative(ROOT, file).split(path.sep).join('/'))
    .sort();
}

/** The JSDoc text right before `node`, on one line. */
function docOf(node: ts.Node, source: ts.SourceFile): string {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  const doc = ranges
    .map((range) => source.text.slice(range.pos, range.end))
    .filter((text) => text.startsWith('/**'))
    .pop();
  if (!doc) return '';
  return doc
    .replace(/^\/\*\*|\*\/$/g, '')
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, '').trim())
    .filter(Boolean)
    .join(' ');
}

function collect(): { codes: Map<string, Entry>; reasons: Map<string, Entry> } {
  const codes = new Map<string, Entry>();
  const reasons = new Map<string, Entry>();
  const add = (into: Map<string, Entry>, name: string, description: string, where: string) => {
    const existing = into.get(name);
    if (existing) {
      if (!existing.declaredIn.includes(where)) existing.declaredIn.push(where);
      if (!existing.description && description) into.set(name, { ...existing, description });
      return;
    }
    into.set(name, { name, description, declaredIn: [where] });
  };

  for (const file of sourceFiles()) {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2023, true);
    for (const statement of source.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      if (!statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
      for (const declaration of statement.declarationList.declarations) {
        if (!ts.isIdentifier(declaration.name) || !declaration.initializer) continue;
        const constName = declaration.name.text;
        const where = `${file}#${constName}`;
        let init: ts.Expression = declaration.initializer;
        if (ts.isAsExpression(init)) init = init.expression;
        if (constName === APOLLO_SET && ts.isNewExpression(init)) {
          const list = init.arguments?.[0];
          if (list && ts.isArrayLiteralExpression(list)) {
            for (const element of list.elements) {
              if (ts.isStringLiteral(element))
                add(codes, element.text, 'A GraphQL request error (Apollo Server).', where);
            }
          }
          continue;
        }
        if (!ts.isObjectLiteralExpression(init)) continue;
        const values = init.properties.flatMap((property) =>
          ts.isPropertyAssignment(property) && ts.isStringLiteral(property.initializer)
            ? [{ value: property.initializer.text, description: docOf(property, source) }]
            : [],
        );
        // Only registries of UPPER_SNAKE codes (not e.g. close reasons or maps of statuses).
        if (values.length === 0 || !values.every(({ value }) => /^[A-Z][A-Z0-9_]*$/.test(value))) continue;
        const into = CODE_DECLARATIONS.has(where) ? codes : reasons;
        for (const { value, description } of values) add(into, value, description, where);
      }
    }
  }
  return { codes, reasons };
}

async function prettier(text: string, file: string): Promise<string> {
  return format(text, { ...(await resolveConfig(file)), filepath: file });
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const { codes, reasons } = collect();
  const sorted = (map: Map<string, Entry>) =>
    [...map.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((entry) => ({ ...entry, declaredIn: [...entry.declaredIn].sort() }));

  const json = await prettier(
    JSON.stringify({
      $comment:
        'Generated by `npm run codegen` (scripts/client-error-codes.ts) from the backend error-code declarations. Do not edit.',
      // No source paths: moving a declaration inside the backend must not change what clients see.
      codes: sorted(codes).map(({ name, description }) => ({ code: name, description })),
      reasons: sorted(reasons).map(({ name, description }) => ({ reason: name, description })),
    }),
    JSON_FILE,
  );
  const list = (entries: Entry[]) =>
    entries
      .map(
        ({ name, description }) =>
          `${description ? `  /** ${description.replace(/\*\//g, '*\\/')} */\n` : ''}  '${name}',`,
      )
      .join('\n');
  const typescript = await prettier(
    [
      '/* Generated by `npm run codegen` (scripts/client-error-codes.ts) from the backend error-code declarations. Do not edit. */',
      '',
      '/** Every `extensions.code` the API answers with. */',
      `export const ERROR_CODES = [\n${list(sorted(codes))}\n] as const;`,
      '',
      'export type ErrorCode = (typeof ERROR_CODES)[number];',
      '',
      '/** Every `extensions.details.reason` the API names, next to a generic code (e.g. BAD_USER_INPUT). */',
      `export const ERROR_REASONS = [\n${list(sorted(reasons))}\n] as const;`,
      '',
      'export type ErrorReason = (typeof ERROR_REASONS)[number];',
      '',
    ].join('\n'),
    TS_FILE,
  );

  let stale = 0;
  for (const [file, content] of [
    [JSON_FILE, json],
    [TS_FILE, typescript],
  ] as const) {
    const target = path.relative(ROOT, file);
    const committed = await readFile(file, 'utf8').catch(() => undefined);
    if (committed === content) continue;
    if (check) {
      console.error(`${target} is stale. Run \`npm run codegen\` and commit the result.`);
      stale += 1;
    } else {
      await writeFile(file, content);
      console.log(`Wrote ${target}.`);
    }
  }
  console.log(`Error codes: ${codes.size} codes, ${reasons.size} reasons.`);
  return stale === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
