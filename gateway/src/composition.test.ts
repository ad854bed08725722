import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { composeSupergraph, SUPERGRAPH_HEADER } from './composition';
import { REPOSITORY_ROOT, SUPERGRAPH_FILE } from './subgraphs';

describe('supergraph composition', () => {
  it('composes the subgraph schemas into exactly the committed gateway/supergraph.graphql', async () => {
    const outcome = await composeSupergraph(REPOSITORY_ROOT);

    if (!outcome.ok) throw new Error(`Composition failed:\n${outcome.errors.join('\n')}`);
    const committed = await readFile(SUPERGRAPH_FILE, 'utf8');
    // On failure: run `npm run compose` and commit gateway/supergraph.graphql.
    expect(outcome.supergraphSdl).toBe(committed);
    expect(committed.startsWith(SUPERGRAPH_HEADER)).toBe(true);
    for (const graph of ['IDENTITY', 'ACCOUNT', 'ACCESS_CONTROL', 'BILLING']) {
      expect(committed).toMatch(new RegExp(`^\\s+${graph} @join__graph\\(`, 'm'));
    }
  });

  describe('with broken subgraph schemas', () => {
    let root: string;

    beforeEach(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'gatehouse-compose-'));
      await cp(path.join(REPOSITORY_ROOT, 'subgraphs'), path.join(root, 'subgraphs'), {
        recursive: true,
        filter: (source) => !source.includes(`${path.sep}node_modules`) && !source.includes(`${path.sep}src`),
      });
    });

    afterEach(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it('reports a syntax error with the file and line', async () => {
      await writeFile(
        path.join(root, 'subgraphs/account/schema.graphql'),
        'type Query {\n  broken(: String\n}\n',
      );

      const outcome = await composeSupergraph(root);

      expect(outcome.ok).toBe(false);
      if (outcome.ok) return;
      expect(outcome.errors).toHaveLength(1);
      expect(outcome.errors[0]).toContain('subgraphs/account/schema.graphql:2:');
    });

    it('reports a missing schema file by path', async () => {
      await rm(path.join(root, 'subgraphs/billing/schema.graphql'));

      const outcome = await composeSupergraph(root);

      expect(outcome).toEqual({
        ok: false,
        errors: [expect.stringMatching(/^subgraphs\/billing\/schema\.graphql: cannot read/)],
      });
    });

    it('reports composition conflicts between subgraphs with their error code', async () => {
      const file = path.join(root, 'subgraphs/account/schema.graphql');
      // identity declares `User.id: ID!`; a conflicting non-shareable field type cannot compose.
      const sdl = await readFile(file, 'utf8');
      await writeFile(
        file,
        `${sdl}\nextend type User {\n  """Conflicts with identity."""\n  email: Int\n}\n`,
      );

      const outcome = await composeSupergraph(root);

      expect(outcome.ok).toBe(false);
      if (outcome.ok) return;
      expect(outcome.errors.join('\n')).toMatch(/\[[A-Z_]+\].*User\.email/);
    });
  });
});
