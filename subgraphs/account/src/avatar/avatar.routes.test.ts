import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { startHttpService, type HttpService, type RouteHandler, type SessionCheck } from '@gatehouse/service';
import { createTestAuth } from '@gatehouse/service/testing';
import { createFileRoutes, createFilesystemStorage, type FilesystemStorage } from '@gatehouse/storage';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { createProfileStore, type ProfileStore } from '../profile/profile-store';
import { createProfileViewRepository } from '../profile/profile-view.repository';
import { createAvatarRoutes, type AvatarRoutesOptions } from './avatar.routes';
import { createAvatarService } from './avatar.service';
import { AVATAR_MAX_BYTES } from './process-avatar';

const logger = createLogger({ name: 'avatar-routes-test', level: 'silent' });
const { signer, verifier, tokenFor } = createTestAuth();
const REVOKED_SESSION = 'revoked-session';
const sessionCheck: SessionCheck = async (viewer) => viewer.sessionId !== REVOKED_SESSION;

let db: TestDatabase;
let workDir: string;
let service: HttpService;
let storage: FilesystemStorage;
let profiles: ProfileStore;
/** Swapped per test where a different avatar service is needed. */
let avatars: AvatarRoutesOptions['avatars'];

beforeAll(async () => {
  db = await createTestDatabase();
  workDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-avatar-routes-'));
  let routes: RouteHandler = async () => false;
  service = await startHttpService({
    name: 'account',
    host: '127.0.0.1',
    port: 0,
    logger,
    readinessChecks: {},
    routes: (req, res, requestId) => routes(req, res, requestId),
  });
  storage = createFilesystemStorage({
    rootDir: path.join(workDir, 'storage'),
    publicBaseUrl: `${service.url}/files`,
    signingSecret: 'avatar-routes-test-signing-secret-0123456789',
  });
  profiles = createProfileStore({
    repository: createProfileViewRepository(db.prisma),
    kv: new MemoryKeyValueStore(),
    storage,
    logger,
  });
  const fileRoutes = createFileRoutes(storage);
  const avatarRoutes = createAvatarRoutes({
    avatars: { upload: (...args) => avatars.upload(...args), remove: (...args) => avatars.remove(...args) },
    verifier,
    sessionCheck,
    logger,
  });
  routes = async (req, res, requestId) =>
    (await avatarRoutes(req, res, requestId)) || fileRoutes(req, res, requestId);
});

beforeEach(() => {
  avatars = createAvatarService({
    repository: createProfileViewRepository(db.prisma),
    storage,
    profiles,
    logger,
  });
});

afterAll(async () => {
  await service?.stop();
  await db?.close();
  await rm(workDir, { recursive: true, force: true });
});

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Whether the request had been ended (its last byte sent) when the response arrived. */
  requestEnded: boolean;
}

/**
 * Sends a request with node:http (fetch cannot show a response that arrives while the upload is still being
 * sent). The body is written in 64 KiB pieces; writing stops as soon as a response arrives, and errors from
 * the server closing the connection after that are expected. With `holdOpen`, the request is never ended: a
 * server that waited for the end of the body would never answer (the test then times out).
 */
function send(
  pathname: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer;
    chunked?: boolean;
    holdOpen?: boolean;
  } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(service.url);
  const body = options.body ?? Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    let responded = false;
    let requestEnded = false;
    const headers: Record<string, string | number> = { ...options.headers };
    if (!options.chunked) headers['content-length'] = body.length;
    const req = request(
      { hostname, port, path: pathname, method: options.method ?? 'PUT', headers },
      (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            requestEnded,
          }),
        );
        // A held-open request is abandoned once answered.
        if (options.holdOpen) res.on('end', () => req.destroy());
        res.on('error', reject);
      },
    );
    req.on('error', (error) => {
      if (!responded) reject(error);
    });
    const piece = 64 * 1024;
    let offset = 0;
    const writeMore = () => {
      while (offset < body.length && !responded) {
        const chunk = body.subarray(offset, offset + piece);
        offset += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', writeMore);
          return;
        }
      }
      if (!responded && !options.holdOpen) {
        requestEnded = true;
        req.end();
      }
    };
    writeMore();
  });
}

const json = (response: RawResponse) => JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;

async function newUser(): Promise<string> {
  return (await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test`, status: 'ACTIVE' } }))
    .id;
}

async function authorised(userId?: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(userId ?? (await newUser()))}` };
}

const solid = (background: string) => sharp({ create: { width: 64, height: 48, channels: 3, background } });

const pathOf = (url: string) => new URL(url).pathname;

describe('PUT /account/avatar', () => {
  it('requires a bearer token: 401 UNAUTHENTICATED, before reading the upload', async () => {
    const png = await solid('#ff0000').png().toBuffer();
    // Held open: the 401 must come without waiting for the body.
    const missing = await send('/account/avatar', { body: png, holdOpen: true });
    expect(missing.status).toBe(401);
    expect(json(missing)).toEqual({ error: 'UNAUTHENTICATED', message: expect.any(String) });
    expect(missing.headers['www-authenticate']).toBe('Bearer');

    for (const authorization of ['Bearer not-a-jwt', 'Basic dXNlcjpwYXNz', 'Bearer']) {
      const response = await send('/account/avatar', { body: png, headers: { authorization } });
      expect({ authorization, status: response.status }).toEqual({ authorization, status: 401 });
      expect(json(response).error).toBe('UNAUTHENTICATED');
      expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    }

    const expired = await signer.sign(
      { userId: await newUser(), roles: ['member'] },
      { issuedAt: new Date(Date.now() - 3600_000), ttlSeconds: 60 },
    );
    expect(
      (await send('/account/avatar', { body: png, headers: { authorization: `Bearer ${expired}` } })).status,
    ).toBe(401);
  });

  it('refuses the token of an ended session', async () => {
    const userId = await newUser();
    const token = await signer.sign({ userId, roles: ['member'], sessionId: REVOKED_SESSION });
    const response = await send('/account/avatar', {
      body: await solid('#00ff00').png().toBuffer(),
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(401);
    expect(await db.prisma.userProfile.count({ where: { userId } })).toBe(0);
  });

  // Issue #14: an administrator impersonating a user may look, not change.
  it('refuses an impersonation token with 403 IMPERSONATION_FORBIDDEN for upload and removal', async () => {
    const userId = await newUser();
    const impersonation = await signer.sign({
      userId,
      roles: ['member'],
      impersonatorUserId: randomUUID(),
    });
    const headers = { authorization: `Bearer ${impersonation}` };
    const upload = await send('/account/avatar', {
      body: await solid('#00ff00').png().toBuffer(),
      headers,
      holdOpen: true,
    });
    expect(upload.status).toBe(403);
    expect(json(upload)).toEqual({ error: 'IMPERSONATION_FORBIDDEN', message: expect.any(String) });
    const removal = await send('/account/avatar', { method: 'DELETE', headers });
    expect(removal.status).toBe(403);
    expect(await db.prisma.userProfile.count({ where: { userId } })).toBe(0);
  });

  it.each([
    ['PNG', 'image/png', () => solid('#ff0000').png().toBuffer()],
    ['JPEG', 'image/jpeg', () => solid('#00ff00').jpeg().toBuffer()],
    ['WebP', 'image/webp', () => solid('#0000ff').webp().toBuffer()],
    [
      'PNG sent as application/octet-stream',
      'application/octet-stream',
      () => solid('#123456').png().toBuffer(),
    ],
  ])(
    'accepts a %s and serves the WebP renditions at the returned public URLs',
    async (_label, type, make) => {
      const userId = await newUser();
      const response = await send('/account/avatar', {
        body: await make(),
        headers: { ...(await authorised(userId)), 'content-type': type },
      });
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      const { avatar } = json(response) as { avatar: { original: string; sizes: Record<string, string> } };
      const key = (await db.prisma.userProfile.findUniqueOrThrow({ where: { userId } })).avatarKey!;
      expect(avatar).toEqual({
        original: `${service.url}/files/${key}/original.webp`,
        sizes: {
          50: `${service.url}/files/${key}/50.webp`,
          150: `${service.url}/files/${key}/150.webp`,
          300: `${service.url}/files/${key}/300.webp`,
        },
      });

      const original = await send(pathOf(avatar.original), { method: 'GET' });
      expect(original.status).toBe(200);
      expect(original.headers['content-type']).toBe('image/webp');
      expect(original.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(await sharp(original.body).metadata()).toMatchObject({ format: 'webp', width: 64, height: 48 });
      for (const size of [50, 150, 300]) {
        const thumbnail = await send(pathOf(avatar.sizes[size]!), { method: 'GET' });
        expect(await sharp(thumbnail.body).metadata()).toMatchObject({
          format: 'webp',
          width: size,
          height: size,
        });
      }
    },
  );

  it('also takes POST, and a new upload replaces the old files (old URLs 404)', async () => {
    const headers = await authorised();
    const first = json(
      await send('/account/avatar', { body: await solid('#ff0000').png().toBuffer(), headers }),
    );
    const second = json(
      await send('/account/avatar', {
        method: 'POST',
        body: await solid('#00ff00').png().toBuffer(),
        headers,
      }),
    );
    const firstUrl = (first.avatar as { original: string }).original;
    const secondUrl = (second.avatar as { original: string }).original;
    expect(secondUrl).not.toBe(firstUrl);
    expect((await send(pathOf(firstUrl), { method: 'GET' })).status).toBe(404);
    expect((await send(pathOf(secondUrl), { method: 'GET' })).status).toBe(200);
  });

  it('answers 413 for a declared size over 5 MB without reading the body', async () => {
    const userId = await newUser();
    const body = Buffer.alloc(6 * 1024 * 1024, 0x41);
    const response = await send('/account/avatar', {
      body,
      holdOpen: true,
      headers: await authorised(userId),
    });
    expect(response.status).toBe(413);
    expect(json(response)).toEqual({ error: 'AVATAR_TOO_LARGE', message: 'The image is larger than 5 MB' });
    expect(response.headers.connection).toBe('close');
    expect(response.requestEnded).toBe(false);
    expect(await db.prisma.userProfile.count({ where: { userId } })).toBe(0);
  });

  it('answers 413 as soon as a streamed (chunked) upload passes 5 MB, without waiting for its end', async () => {
    const png = await solid('#ff0000').png().toBuffer();
    // A real PNG header, then padding: the limit is on bytes, whatever they are.
    const body = Buffer.concat([png, Buffer.alloc(AVATAR_MAX_BYTES + 1 - png.length)]);
    const response = await send('/account/avatar', {
      body,
      chunked: true,
      holdOpen: true,
      headers: await authorised(),
    });
    expect(response.status).toBe(413);
    expect(json(response).error).toBe('AVATAR_TOO_LARGE');
    expect(response.requestEnded).toBe(false);
  });

  it('accepts an upload of exactly 5 MB as far as size goes (then judges the content)', async () => {
    const png = await solid('#ff0000').png().toBuffer();
    const body = Buffer.concat([png, Buffer.alloc(AVATAR_MAX_BYTES - png.length)]);
    const response = await send('/account/avatar', { body, chunked: true, headers: await authorised() });
    // Bytes after the PNG end are ignored by the decoder: the image itself is fine.
    expect(response.status).toBe(200);
  });

  it.each([
    ['text named .png', 'image/png', Buffer.from('just some text, uploaded as avatar.png')],
    ['HTML named .png', 'image/png', Buffer.from('<!DOCTYPE html><html><script>alert(1)</script></html>')],
    ['SVG', 'image/svg+xml', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')],
    ['empty body', 'image/png', Buffer.alloc(0)],
  ])('refuses a fake image (%s) with 415 AVATAR_TYPE_UNSUPPORTED', async (_label, type, body) => {
    const userId = await newUser();
    const response = await send('/account/avatar', {
      body,
      headers: { ...(await authorised(userId)), 'content-type': type },
    });
    expect(response.status).toBe(415);
    expect(json(response)).toEqual({
      error: 'AVATAR_TYPE_UNSUPPORTED',
      message: 'Only JPEG, PNG and WebP images are accepted',
    });
    expect(await db.prisma.userProfile.count({ where: { userId } })).toBe(0);
  });

  it('refuses a damaged image with 400 AVATAR_CORRUPT', async () => {
    const png = await solid('#ff0000').png({ compressionLevel: 0 }).toBuffer();
    const response = await send('/account/avatar', {
      body: png.subarray(0, Math.floor(png.length / 2)),
      headers: await authorised(),
    });
    expect(response.status).toBe(400);
    expect(json(response).error).toBe('AVATAR_CORRUPT');
  });

  it('answers 404 USER_NOT_FOUND for a token whose user no longer exists', async () => {
    const response = await send('/account/avatar', {
      body: await solid('#ff0000').png().toBuffer(),
      headers: { authorization: `Bearer ${await tokenFor(randomUUID())}` },
    });
    expect(response.status).toBe(404);
    expect(json(response)).toEqual({ error: 'USER_NOT_FOUND', message: 'User not found' });
  });

  it('answers 500 without details when something breaks on our side', async () => {
    avatars = {
      upload: () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2')),
      remove: () => Promise.reject(new Error('boom')),
    };
    const headers = await authorised();
    const response = await send('/account/avatar', {
      body: await solid('#ff0000').png().toBuffer(),
      headers,
    });
    expect(response.status).toBe(500);
    expect(json(response)).toEqual({ error: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
    expect(response.body.toString()).not.toMatch(/hunter2|ECONNREFUSED|at .*\.ts/);
    expect((await send('/account/avatar', { method: 'DELETE', headers })).status).toBe(500);
  });
});

describe('DELETE /account/avatar and other requests', () => {
  it('removes the avatar and its files: 204, also when there is none', async () => {
    const userId = await newUser();
    const headers = await authorised(userId);
    const uploaded = json(
      await send('/account/avatar', { body: await solid('#ff0000').png().toBuffer(), headers }),
    );
    const url = (uploaded.avatar as { original: string }).original;

    const removed = await send('/account/avatar', { method: 'DELETE', headers });
    expect(removed.status).toBe(204);
    expect(removed.body.length).toBe(0);
    expect((await send(pathOf(url), { method: 'GET' })).status).toBe(404);
    expect((await db.prisma.userProfile.findUniqueOrThrow({ where: { userId } })).avatarKey).toBeNull();
    expect((await send('/account/avatar', { method: 'DELETE', headers })).status).toBe(204);
    expect((await send('/account/avatar', { method: 'DELETE' })).status).toBe(401);
  });

  it('answers 405 for other methods and leaves other paths to other routes', async () => {
    const response = await send('/account/avatar', { method: 'GET' });
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('PUT, POST, DELETE');
    expect(json(response).error).toBe('METHOD_NOT_ALLOWED');
    expect((await send('/account/avatar/extra', { headers: await authorised() })).status).toBe(404);
    expect(
      (await send('/account/avatar?x=1', { method: 'DELETE', headers: await authorised() })).status,
    ).toBe(204);
  });
});
