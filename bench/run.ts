/**
 * `npm run bench`: gateway overhead as a ratio, measured with autocannon.
 *
 * Starts the services as production runs them — one process each, on their own ports and database
 * (`gatehouse_bench`, recreated each run) — so the load generator (this process) shares no event loop with them.
 * Then, for each case, a warm-up and a measured run:
 *
 *   - trivial, anonymous: `plans` — direct to the billing subgraph vs through the gateway
 *   - entity join, authenticated: the account subgraph's `_entities` for one User — direct — vs `me { email profile }`
 *     through the gateway (identity → account)
 *   - authenticated read, one subgraph: `me { id email }` through the gateway (the 1,000 req/s product bar)
 *   - authenticated, three subgraphs: `me { email profile roles }` through the gateway
 *   - `login` through the gateway, next to raw argon2id verifications/s with the same parameters in this process
 *   - `refreshToken` through the gateway: every connection rotates its own refresh-token chain
 *   - rate-limited: one user driving a second gateway that keeps the default limits (3,000 reads per user per
 *     minute) far past its limit; records how many requests were answered and how many were refused with 429
 *
 * The measured gateway runs with every protection on (token verification, query limits, rate limiting) but with
 * limits raised above what the load generator sends, so the cases measure the protections' cost, not refusals.
 *
 * Results go to bench/results/latest.json (and a dated copy). Connection count, duration and warm-up can be set
 * with BENCH_CONNECTIONS, BENCH_SECONDS, BENCH_WARMUP_SECONDS. Database: BENCH_DATABASE_URL, DATABASE_URL or
 * TEST_DATABASE_URL (any database on the server; the bench creates its own), else an embedded PostgreSQL.
 *
 * Switches for performance work (docs/performance.md):
 *   - BENCH_CASES=me,plans — run only the cases whose name contains one of these words (results are still written);
 *   - BENCH_CPU_PROF=1 — every service runs with `--cpu-prof`; the profiles land in bench/results/profiles/<time>/
 *     when the stack stops, a directory per service (summarise with `node bench/profile-summary.mjs <dir>`);
 *   - BENCH_GATEWAY_WORKERS=2 — the measured gateway runs as a `node:cluster` of that many workers (GATEWAY_WORKERS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import autocannon from 'autocannon';
import pg from 'pg';

import { createPasswordHasher, OWASP_ARGON2ID } from '@gatehouse/crypto';
import { startEmbeddedPostgres } from '@gatehouse/db';
import { createAccessTokenSigner } from '@gatehouse/service';
import { measureShieldCost } from './shield-cost';

const root = path.resolve(__dirname, '..');
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const PORTS = {
  GATEWAY: 4100,
  IDENTITY: 4101,
  ACCOUNT: 4102,
  ACCESS_CONTROL: 4103,
  BILLING: 4104,
  LIMITED_GATEWAY: 4105,
};
/** Raised limits of the measured gateway (per minute): the bench measures throughput, not refusals. */
const BENCH_RATE_LIMITS = {
  RATE_LIMIT_AUTH_PER_IP: '10000000',
  RATE_LIMIT_AUTH_PER_USER: '10000000',
  RATE_LIMIT_READ_PER_IP: '10000000',
  RATE_LIMIT_READ_PER_USER: '10000000',
  RATE_LIMIT_WRITE_PER_IP: '10000000',
  RATE_LIMIT_WRITE_PER_USER: '10000000',
};
const AUTHENTICATED_READS_TARGET = 1000;
const SEED_ADMIN_PASSWORD = 'bench-admin-password-not-secret';
const CASE_FILTER = (process.env.BENCH_CASES ?? '')
  .split(',')
  .map((word) => word.trim().toLowerCase())
  .filter(Boolean);
/** Whether a case runs: all do unless BENCH_CASES names some. */
const runs = (name: string) =>
  CASE_FILTER.length === 0 || CASE_FILTER.some((word) => name.toLowerCase().includes(word));
const PROFILE_DIR =
  process.env.BENCH_CPU_PROF === '1'
    ? path.join(root, 'bench', 'results', 'profiles', new Date().toISOString().replace(/[:.]/g, '-'))
    : undefined;
const GATEWAY_WORKERS = process.env.BENCH_GATEWAY_WORKERS ?? '1';
/** Service name → pid of the process the bench started (a clustered gateway's workers are its children). */
const servicePids = new Map<string, number>();
/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

interface CaseResult {
  name: string;
  target: 'subgraph' | 'gateway';
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  non2xx: number;
  timeouts: number;
  /** CPU µs each service (and in total) spent per request in the measured run (Linux). */
  cpuMicrosPerRequest?: Record<string, number>;
}

async function main(): Promise<void> {
  const stopDatabase = await prepareDatabase();
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const stack = await startStack({ publicKey, privateKey });
  try {
    const gateway = `http://127.0.0.1:${PORTS.GATEWAY}/graphql`;
    const billing = `http://127.0.0.1:${PORTS.BILLING}/graphql`;
    const account = `http://127.0.0.1:${PORTS.ACCOUNT}/graphql`;

    const adminId = await adminUserId();
    const signer = createAccessTokenSigner({
      privateKeyPem: privateKey,
      issuer: 'http://127.0.0.1:4000',
      audience: 'gatehouse',
      ttlSeconds: 3600,
    });
    const token = await signer.sign({ userId: adminId, roles: ['admin'] });
    const auth = { authorization: `Bearer ${token}` };

    const plans = { query: 'query Plans { plans { code name price { amount currency } } }' };
    const entities = {
      query:
        'query Entities($r: [_Any!]!) { _entities(representations: $r) { ... on User { profile { displayName } } } }',
      variables: { r: [{ __typename: 'User', id: adminId }] },
    };
    const meProfile = { query: 'query Me { me { email profile { displayName } } }' };
    const meOnly = { query: 'query MeOnly { me { id email } }' };
    const meJoined = { query: 'query MeJoined { me { email profile { displayName } roles { name } } }' };

    const results: CaseResult[] = [];
    const run = async (
      name: string,
      target: CaseResult['target'],
      ...args: [string, object, Record<string, string>?]
    ) => {
      if (runs(name)) results.push(await measure(name, target, ...args));
    };
    await run('plans (anonymous, trivial)', 'subgraph', billing, plans);
    await run('plans (anonymous, trivial)', 'gateway', gateway, plans);
    await run('user entity join (authenticated)', 'subgraph', account, entities, auth);
    await run('user entity join (authenticated)', 'gateway', gateway, meProfile, auth);
    await run('me (authenticated read)', 'gateway', gateway, meOnly, auth);
    if (runs('me (session token)')) {
      // What a signed-in client sends: a token bound to a session, so every request is also checked against
      // revocation (gateway and subgraph) and records the session's activity (throttled).
      const sessionAuth = { authorization: `Bearer ${await loginAccessToken(gateway)}` };
      results.push(await measure('me (session token)', 'gateway', gateway, meOnly, sessionAuth));
    }
    await run('me across 3 subgraphs (authenticated)', 'gateway', gateway, meJoined, auth);

    const credentials = await createBenchUsers(CONNECTIONS);
    const loginBody = {
      query:
        'mutation Login($input: LoginInput!) { login(input: $input) { ... on AuthPayload { accessToken } } }',
      variables: { input: { email: credentials.emails[0], password: credentials.password } },
    };
    await run('login (argon2id verify + session)', 'gateway', gateway, loginBody);
    const argon2 = runs('argon2') ? await measureArgon2(credentials.hash, credentials.password) : null;
    const shieldCost = runs('shield') ? await measureShieldCost(SECONDS) : null;
    if (runs('refreshToken (rotation)')) results.push(await measureRefreshes(gateway, credentials));
    const limitedUser = await signer.sign({ userId: randomUUID(), roles: ['member'] });
    const rateLimited = runs('rate-limited')
      ? await measureRateLimited(`http://127.0.0.1:${PORTS.LIMITED_GATEWAY}/graphql`, meOnly, {
          authorization: `Bearer ${limitedUser}`,
        })
      : null;

    const ratio = (name: string) => {
      const direct = results.find((r) => r.name === name && r.target === 'subgraph');
      const through = results.find((r) => r.name === name && r.target === 'gateway');
      return direct && through ? round(through.requestsPerSecond / direct.requestsPerSecond, 3) : null;
    };
    const authenticatedRead = results.find((r) => r.name === 'me (authenticated read)');
    const report = {
      measuredAt: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
      settings: {
        connections: CONNECTIONS,
        seconds: SECONDS,
        warmupSeconds: WARMUP_SECONDS,
        gatewayWorkers: Number(GATEWAY_WORKERS),
        ...(CASE_FILTER.length > 0 ? { cases: CASE_FILTER } : {}),
      },
      results,
      gatewayOverhead: {
        trivialThroughputRatio: ratio('plans (anonymous, trivial)'),
        entityJoinThroughputRatio: ratio('user entity join (authenticated)'),
      },
      argon2idVerificationsPerSecond: argon2,
      shieldCostOn1000ItemList: shieldCost,
      rateLimited,
      authenticatedReadsTarget: {
        target: AUTHENTICATED_READS_TARGET,
        case: authenticatedRead?.name,
        measured: authenticatedRead?.requestsPerSecond ?? null,
        met: (authenticatedRead?.requestsPerSecond ?? 0) >= AUTHENTICATED_READS_TARGET,
      },
    };
    const dir = path.join(root, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    const body = JSON.stringify(report, null, 2) + '\n';
    // A partial run (BENCH_CASES) is written aside: latest.json always holds a complete run.
    const written = path.join(dir, CASE_FILTER.length > 0 ? 'partial.json' : 'latest.json');
    fs.writeFileSync(written, body);
    // The dated copy names the runtime too, so runs on two Node versions the same day sit side by side.
    const runtime = `node${process.versions.node.split('.')[0]}`;
    if (CASE_FILTER.length === 0)
      fs.writeFileSync(path.join(dir, `${report.measuredAt.slice(0, 10)}-${runtime}.json`), body);
    printTable(report.results);
    console.log(
      `gateway/subgraph throughput: trivial ${report.gatewayOverhead.trivialThroughputRatio}, ` +
        `entity join ${report.gatewayOverhead.entityJoinThroughputRatio}`,
    );
    console.log(
      `authenticated reads through the gateway: ${authenticatedRead?.requestsPerSecond ?? '?'} req/s ` +
        `(target ${AUTHENTICATED_READS_TARGET})`,
    );
    if (argon2) {
      console.log(`raw argon2id verifications in this process: ${argon2.perSecond}/s (${argon2.parameters})`);
    }
    if (shieldCost) {
      console.log(
        `graphql-shield on a ${shieldCost.items}-item list: ${shieldCost.withRulesPerSecond}/s with rules, ` +
          `${shieldCost.withoutRulesPerSecond}/s without (ratio ${shieldCost.throughputRatio})`,
      );
    }
    if (rateLimited) {
      console.log(
        `rate-limited (${rateLimited.limit}): ${rateLimited.accepted} answered, ${rateLimited.refused429} refused with 429, ` +
          `${rateLimited.other} other`,
      );
    }
    console.log(`written to ${path.relative(root, written)}`);
  } finally {
    await stopStack(stack);
    await stopDatabase();
  }
}

let databaseUrl = '';

/** Recreates the `gatehouse_bench` database on the configured server, or on an embedded one. */
async function prepareDatabase(): Promise<() => Promise<void>> {
  let serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  let stop = async () => {};
  if (!serverUrl) {
    const embedded = await startEmbeddedPostgres({
      dataDir: path.join(root, '.data', 'bench-postgres'),
      port: 54330,
    });
    serverUrl = embedded.url;
    stop = () => embedded.stop();
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query('DROP DATABASE IF EXISTS gatehouse_bench WITH (FORCE)');
    await admin.query('CREATE DATABASE gatehouse_bench');
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = '/gatehouse_bench';
  databaseUrl = url.toString();
  return stop;
}

async function adminUserId(): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id
       WHERE r.name = 'admin' LIMIT 1`,
    );
    if (!rows[0]) throw new Error('the seed created no admin user');
    return rows[0].id;
  } finally {
    await client.end();
  }
}

/** The services as production runs them: one process each (plus migrations and the seed first). */
async function startStack(keys: { publicKey: string; privateKey: string }): Promise<ChildProcess[]> {
  const env = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? '',
    SEED_ADMIN_PASSWORD,
    JWT_PUBLIC_KEY: keys.publicKey,
    JWT_PRIVATE_KEY: keys.privateKey,
    // Required in every environment (no secret from the source is accepted): fresh ones per run.
    ENCRYPTION_KEYS: process.env.ENCRYPTION_KEYS ?? `bench:${randomBytes(32).toString('base64')}`,
    STORAGE_SIGNING_SECRET: process.env.STORAGE_SIGNING_SECRET ?? randomBytes(32).toString('base64url'),
    GATEWAY_PORT: String(PORTS.GATEWAY),
    IDENTITY_PORT: String(PORTS.IDENTITY),
    ACCOUNT_PORT: String(PORTS.ACCOUNT),
    ACCESS_CONTROL_PORT: String(PORTS.ACCESS_CONTROL),
    BILLING_PORT: String(PORTS.BILLING),
    APOLLO_TELEMETRY_DISABLED: 'true',
  };
  if (PROFILE_DIR) fs.mkdirSync(PROFILE_DIR, { recursive: true });
  const node = (
    script: string,
    args: string[] = [],
    extraEnv: Record<string, string> = {},
    profileName?: string,
  ) => {
    // Written when the process exits (the services exit on SIGTERM after draining): one directory per service,
    // one file per process in it (a clustered gateway writes one per worker).
    const profile =
      PROFILE_DIR && profileName
        ? ['--cpu-prof', `--cpu-prof-dir=${path.join(PROFILE_DIR, profileName)}`]
        : [];
    return spawn(process.execPath, [...profile, '--conditions=source', '--import', 'tsx', script, ...args], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...env, ...extraEnv },
    });
  };

  const migrateJob = node('packages/db/src/cli.ts', ['migrate', '--seed']);
  const code = await new Promise<number | null>((resolve) => migrateJob.once('exit', resolve));
  if (code !== 0) throw new Error(`migrations/seed failed with exit code ${code}`);

  const children = ['identity', 'account', 'access-control', 'billing'].map((name) => {
    const child = node(`subgraphs/${name}/src/main.ts`, [], {}, name);
    if (child.pid !== undefined) servicePids.set(name, child.pid);
    return child;
  });
  const gatewayProcess = node(
    'gateway/src/main.ts',
    [],
    { ...BENCH_RATE_LIMITS, GATEWAY_WORKERS },
    'gateway',
  );
  if (gatewayProcess.pid !== undefined) servicePids.set('gateway', gatewayProcess.pid);
  children.push(gatewayProcess);
  // The default limits, for the rate-limited case, with in-process counters: in a shared Redis the measured
  // gateway's hundreds of thousands of reads from 127.0.0.1 would already be over the per-IP limit.
  children.push(
    node('gateway/src/main.ts', [], { GATEWAY_PORT: String(PORTS.LIMITED_GATEWAY), REDIS_URL: '' }),
  );
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const exited = children.find((child) => child.exitCode !== null);
    if (exited) {
      await stopStack(children);
      throw new Error(`a service exited with code ${exited.exitCode} during start-up`);
    }
    try {
      const ready = await Promise.all(
        [PORTS.GATEWAY, PORTS.LIMITED_GATEWAY].map((port) => fetch(`http://127.0.0.1:${port}/health/ready`)),
      );
      if (ready.every((res) => res.ok)) return children;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stopStack(children);
  throw new Error('the stack did not become ready within 120 s');
}

async function stopStack(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

async function measure(
  name: string,
  target: CaseResult['target'],
  url: string,
  body: object,
  headers: Record<string, string> = {},
): Promise<CaseResult> {
  const payload = JSON.stringify(body);
  const requestHeaders = { 'content-type': 'application/json', ...headers };
  // One request first: a GraphQL error answers 200, which autocannon would count as a success.
  const probe = await fetch(url, { method: 'POST', headers: requestHeaders, body: payload });
  const probeBody = (await probe.json()) as { errors?: unknown; data?: unknown };
  if (!probe.ok || probeBody.errors) {
    throw new Error(
      `${name} (${target}) does not answer cleanly: ${probe.status} ${JSON.stringify(probeBody)}`,
    );
  }
  const options = {
    url,
    method: 'POST' as const,
    headers: requestHeaders,
    body: payload,
    connections: CONNECTIONS,
  };
  await autocannon({ ...options, duration: WARMUP_SECONDS });
  const cpuBefore = serviceCpuTicks();
  const result = await autocannon({ ...options, duration: SECONDS });
  const cpuAfter = serviceCpuTicks();
  return {
    name,
    target,
    requestsPerSecond: round(result.requests.average, 0),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    errors: result.errors,
    non2xx: result.non2xx,
    timeouts: result.timeouts,
    ...cpuPerRequest(cpuBefore, cpuAfter, result.requests.total),
  };
}

/** CPU time (user + system, in ticks) a process and all its descendants have used; Linux only, else 0. */
function processTreeTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields 14 and 15 (utime, stime); the part after the parenthesised command name starts at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let ticks = Number(fields[11]) + Number(fields[12]);
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const child of children ? children.split(' ') : []) ticks += processTreeTicks(Number(child));
    }
    return ticks;
  } catch {
    return 0;
  }
}

function serviceCpuTicks(): Map<string, number> {
  return new Map([...servicePids].map(([name, pid]) => [name, processTreeTicks(pid)]));
}

/**
 * CPU each service spent per answered request during a measured run: unlike requests per second, this barely
 * moves when other work shares the machine, so it compares variants measured at different times.
 */
function cpuPerRequest(
  before: Map<string, number>,
  after: Map<string, number>,
  requests: number,
): { cpuMicrosPerRequest?: Record<string, number> } {
  if (requests === 0 || servicePids.size === 0) return {};
  const perRequest: Record<string, number> = {};
  let total = 0;
  for (const [name, ticks] of after) {
    const micros = ((ticks - (before.get(name) ?? 0)) * 1e6) / TICKS_PER_SECOND / requests;
    if (micros > 0) perRequest[name] = round(micros, 0);
    total += micros;
  }
  return total > 0 ? { cpuMicrosPerRequest: { ...perRequest, total: round(total, 0) } } : {};
}

/** An access token from a real sign-in of the seeded administrator (it carries the session's `sid`). */
async function loginAccessToken(gatewayUrl: string): Promise<string> {
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query:
        'mutation Login($input: LoginInput!) { login(input: $input) { ... on AuthPayload { accessToken } } }',
      variables: { input: { email: 'admin@gatehouse.local', password: SEED_ADMIN_PASSWORD } },
    }),
  });
  const body = (await response.json()) as { data?: { login?: { accessToken?: string } } };
  const token = body.data?.login?.accessToken;
  if (!token) throw new Error(`the seeded administrator could not sign in: ${JSON.stringify(body)}`);
  return token;
}

interface BenchCredentials {
  emails: string[];
  password: string;
  hash: string;
}

/** Verified, active users sharing one password, so each refresh chain can start from its own session. */
async function createBenchUsers(count: number): Promise<BenchCredentials> {
  const password = 'bench passphrase that is long enough 42';
  const hash = await createPasswordHasher(OWASP_ARGON2ID).hash(password);
  const emails = Array.from({ length: count }, (_, i) => `bench-${i}@example.test`);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO users (email, status, email_verified, password_hash)
       SELECT unnest($1::text[]), 'ACTIVE', true, $2 ON CONFLICT (email) DO NOTHING`,
      [emails, hash],
    );
  } finally {
    await client.end();
  }
  return { emails, password, hash };
}

/** argon2id verifications/s with the production parameters, as many in flight as libuv runs at once. */
async function measureArgon2(
  hash: string,
  password: string,
): Promise<{ perSecond: number; parameters: string }> {
  const hasher = createPasswordHasher(OWASP_ARGON2ID);
  const deadline = Date.now() + SECONDS * 1000;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < deadline) {
        if (!(await hasher.verify(hash, password))) throw new Error('argon2 verification failed');
        done += 1;
      }
    }),
  );
  const { memoryCost, timeCost, parallelism } = OWASP_ARGON2ID;
  return {
    perSecond: round((done * 1000) / (Date.now() - started), 1),
    parameters: `m=${memoryCost} KiB, t=${timeCost}, p=${parallelism}`,
  };
}

/**
 * Refresh-token rotation through the gateway. A refresh token is single use, so each connection keeps its own
 * chain: it starts from one user's login and sends the token the previous response returned.
 */
async function measureRefreshes(gatewayUrl: string, credentials: BenchCredentials): Promise<CaseResult> {
  const name = 'refreshToken (rotation)';
  const tokens: string[] = [];
  for (const email of credentials.emails) {
    const response = await fetch(gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          'mutation Login($input: LoginInput!) { login(input: $input) { ... on AuthPayload { refreshToken } } }',
        variables: { input: { email, password: credentials.password } },
      }),
    });
    const body = (await response.json()) as { data?: { login?: { refreshToken?: string } } };
    const token = body.data?.login?.refreshToken;
    if (!token) throw new Error(`${name}: login of ${email} failed: ${JSON.stringify(body)}`);
    tokens.push(token);
  }
  const query = 'mutation Refresh($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }';
  // autocannon resets a connection's context whenever its request list restarts, so a chain could not carry
  // its token from one response to the next request; plain keep-alive fetch loops, one per chain, do.
  const latencies: number[] = [];
  let errors = 0;
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    tokens.map(async (first) => {
      let token = first;
      while (Date.now() < deadline) {
        const sent = performance.now();
        const response = await fetch(gatewayUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query, variables: { t: token } }),
        });
        const body = (await response.json()) as { data?: { refreshToken?: { refreshToken?: string } } };
        latencies.push(performance.now() - sent);
        const next = body.data?.refreshToken?.refreshToken;
        if (!response.ok || !next) {
          errors += 1;
          return; // the chain is broken: its token was not rotated
        }
        token = next;
      }
    }),
  );
  latencies.sort((x, y) => x - y);
  const at = (q: number) =>
    round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0, 1);
  return {
    name,
    target: 'gateway',
    requestsPerSecond: round(((latencies.length - errors) * 1000) / (Date.now() - started), 0),
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) },
    errors,
    non2xx: 0,
    timeouts: 0,
  };
}

/**
 * One user (a fresh id, so `me` is null but answered 200) far past the gateway's default per-user read limit:
 * counts answered requests and 429 refusals over a few seconds.
 */
async function measureRateLimited(
  url: string,
  body: object,
  headers: Record<string, string>,
): Promise<{
  limit: string;
  seconds: number;
  accepted: number;
  refused429: number;
  other: number;
  retryAfterSample: string | null;
}> {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    connections: 10,
    duration: Math.min(SECONDS, 5),
  });
  const stats =
    (result as unknown as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats ?? {};
  const count = (code: string) => stats[code]?.count ?? 0;
  const total = Object.values(stats).reduce((sum, s) => sum + s.count, 0);
  const probe = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  await probe.arrayBuffer();
  return {
    limit: '3000 reads per user per 60 s (default RATE_LIMIT_READ_PER_USER)',
    seconds: Math.min(SECONDS, 5),
    accepted: count('200'),
    refused429: count('429'),
    other: total - count('200') - count('429'),
    retryAfterSample: probe.headers.get('retry-after'),
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function printTable(results: CaseResult[]): void {
  console.log('\ncase                                       target     req/s    p50    p90    p99  errors');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(42)} ${r.target.padEnd(8)} ${String(r.requestsPerSecond).padStart(7)} ` +
        `${String(r.latencyMs.p50).padStart(6)} ${String(r.latencyMs.p90).padStart(6)} ` +
        `${String(r.latencyMs.p99).padStart(6)} ${String(r.errors + r.non2xx + r.timeouts).padStart(7)}` +
        (r.cpuMicrosPerRequest
          ? `  cpu µs/req ${Object.entries(r.cpuMicrosPerRequest)
              .map(([name, micros]) => `${name} ${micros}`)
              .join(', ')}`
          : ''),
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
