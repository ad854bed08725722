import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface TestS3ServerOptions {
  /** Buckets that exist when the server starts. Default `['gatehouse-test']`. */
  buckets?: string[];
  /** Default 10 s. */
  startTimeoutMs?: number;
}

export interface TestS3Server {
  /** `http://127.0.0.1:<port>`: the S3 endpoint; use path-style addressing (`forcePathStyle: true`). */
  endpoint: string;
  /** Any region works; this is the one to sign for. */
  region: string;
  /** The server's fixed access key (s3rver's built-in account). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The buckets created at start, in the order given. */
  buckets: string[];
  /** Stops the server and deletes its data directory. Idempotent. */
  close(): Promise<void>;
}

const LISTENING = /S3rver listening on [^\s:]+:(\d+)/;

/**
 * Starts a local S3-compatible server (`s3rver`) on a free 127.0.0.1 port, storing objects in a fresh temporary
 * directory. It runs as a child process because it encrypts ListObjectsV2 continuation tokens with DES, which
 * OpenSSL 3 only offers with `--openssl-legacy-provider` (a process-wide flag, not something to enable in Jest).
 *
 * What s3rver checks and what it does not (so tests only claim what it proves): it serves PUT/GET/HEAD/DELETE,
 * ListObjectsV2 with pagination and DeleteObjects; it refuses an expired SigV4 presigned URL (X-Amz-Date +
 * X-Amz-Expires) with 403; it does NOT verify SigV4 signatures and it serves unsigned requests (there are no ACLs).
 */
export async function startTestS3Server(options: TestS3ServerOptions = {}): Promise<TestS3Server> {
  const buckets = options.buckets ?? ['gatehouse-test'];
  for (const bucket of buckets) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      throw new Error(`invalid bucket name "${bucket}"`);
  }
  const directory = await mkdtemp(path.join(tmpdir(), 'gatehouse-s3-'));
  const bin = path.join(path.dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const args = [
    '--openssl-legacy-provider',
    bin,
    '--directory',
    directory,
    '--address',
    '127.0.0.1',
    '--port',
    '0',
    '--silent',
    '--no-vhost-buckets',
    ...buckets.flatMap((bucket) => ['--configure-bucket', bucket]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const remember = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stderr.on('data', remember);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the test S3 server did not start in time:\n${output}`)),
      options.startTimeoutMs ?? 10_000,
    );
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = LISTENING.exec(line);
      if (!match) return;
      clearTimeout(timer);
      resolve(Number(match[1]));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the test S3 server exited with ${code}:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await exited;
    await rm(directory, { recursive: true, force: true });
    throw error;
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout.on('data', remember);

  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    buckets: [...buckets],
    close: () =>
      (closed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        await rm(directory, { recursive: true, force: true });
      })()),
  };
}
