import type pg from 'pg';

export interface SqlStatementRecorder {
  /** How many recorded statements name `table` (quoted, as Prisma writes it: `"users"`). */
  count(table: string): number;
  /** Puts the pool's own `query` back. */
  restore(): void;
}

type Query = (...args: unknown[]) => unknown;

function statementText(statement: unknown): string | undefined {
  return typeof statement === 'string' ? statement : (statement as { text?: string } | null)?.text;
}

/**
 * Records the SQL sent through `pool` (Prisma's adapter queries through it) until `restore()`, to prove
 * that a query plan is batched: "N users' profiles with one statement". One recorder per pool at a time.
 */
export function recordSqlStatements(pool: pg.Pool): SqlStatementRecorder {
  const statements: string[] = [];
  const original = pool.query as unknown as Query;
  const recording: Query = function (this: pg.Pool, ...args) {
    statements.push(statementText(args[0]) ?? '');
    return original.apply(this, args);
  };
  pool.query = recording as unknown as pg.Pool['query'];
  return {
    count: (table) => statements.filter((text) => text.includes(`"${table}"`)).length,
    restore: () => {
      if ((pool.query as unknown) !== recording) throw new Error('recordSqlStatements: recorders overlap');
      pool.query = original as unknown as pg.Pool['query'];
    },
  };
}
