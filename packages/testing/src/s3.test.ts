import { startTestS3Server, type TestS3Server } from './s3';

/** `yyyyMMddTHHmmssZ`, the SigV4 timestamp format. */
const amzDate = (date: Date) =>
  date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

function presignedQuery(date: Date, expiresSeconds: number): string {
  return new URLSearchParams({
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `S3RVER/${amzDate(date).slice(0, 8)}/us-east-1/s3/aws4_request`,
    'X-Amz-Date': amzDate(date),
    'X-Amz-Expires': String(expiresSeconds),
    'X-Amz-SignedHeaders': 'host',
    'X-Amz-Signature': '0'.repeat(64),
  }).toString();
}

describe('startTestS3Server', () => {
  let server: TestS3Server;

  beforeAll(async () => {
    server = await startTestS3Server({ buckets: ['first', 'second'] });
  });

  afterAll(() => server.close());

  it('serves objects in the configured buckets over plain HTTP', async () => {
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.buckets).toEqual(['first', 'second']);
    const put = await fetch(`${server.endpoint}/second/dir/hello.txt`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', 'cache-control': 'no-cache' },
      body: 'hello',
    });
    expect(put.status).toBe(200);
    const get = await fetch(`${server.endpoint}/second/dir/hello.txt`);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('text/plain');
    expect(get.headers.get('cache-control')).toBe('no-cache');
    expect(await get.text()).toBe('hello');
    expect((await fetch(`${server.endpoint}/first/dir/hello.txt`)).status).toBe(404);
    expect((await fetch(`${server.endpoint}/missing-bucket/x`)).status).toBe(404);
  });

  it('paginates ListObjectsV2 (continuation tokens need the legacy OpenSSL provider)', async () => {
    for (const name of ['a', 'b', 'c']) {
      await fetch(`${server.endpoint}/first/list/${name}`, { method: 'PUT', body: name });
    }
    const first = await fetch(`${server.endpoint}/first?list-type=2&prefix=list/&max-keys=2`);
    expect(first.status).toBe(200);
    const xml = await first.text();
    expect(xml).toContain('<IsTruncated>true</IsTruncated>');
    const token = /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(xml)?.[1];
    expect(token).toBeDefined();
    const second = await fetch(
      `${server.endpoint}/first?list-type=2&prefix=list/&max-keys=2&continuation-token=${encodeURIComponent(token!)}`,
    );
    const rest = await second.text();
    expect(rest).toContain('<Key>list/c</Key>');
    expect(rest).toContain('<IsTruncated>false</IsTruncated>');
  });

  it('refuses an expired presigned URL and accepts an unexpired one (signatures are not verified)', async () => {
    await fetch(`${server.endpoint}/first/signed`, { method: 'PUT', body: 'private' });
    const fresh = await fetch(`${server.endpoint}/first/signed?${presignedQuery(new Date(), 60)}`);
    expect(fresh.status).toBe(200);
    expect(await fresh.text()).toBe('private');
    const old = new Date(Date.now() - 10 * 60_000);
    const expired = await fetch(`${server.endpoint}/first/signed?${presignedQuery(old, 60)}`);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('Request has expired');
  });

  it('rejects invalid bucket names before starting anything', async () => {
    await expect(startTestS3Server({ buckets: ['Not_Valid'] })).rejects.toThrow('invalid bucket name');
  });
});

describe('TestS3Server.close', () => {
  it('stops the server, idempotently', async () => {
    const server = await startTestS3Server();
    expect((await fetch(`${server.endpoint}/gatehouse-test/none`)).status).toBe(404);
    await Promise.all([server.close(), server.close()]);
    await expect(fetch(`${server.endpoint}/gatehouse-test/none`)).rejects.toThrow();
  });
});
