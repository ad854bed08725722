import { randomBytes, randomUUID } from 'node:crypto';
import type { AuditActorFields } from '@gatehouse/audit';
import type { EnvelopeCipher } from '@gatehouse/crypto';
import { AppError, ConflictError, ErrorCode, NotFoundError, ValidationError } from '@gatehouse/errors';
import { isUuid } from '@gatehouse/service';
import { z } from 'zod';
import { WebhookErrorCode } from './error-codes';
import { WEBHOOK_EVENT_TYPES, isWebhookEventType } from './event-types';
import { WEBHOOK_SECRET_PREFIX } from './signature';
import type { EndpointRow, EndpointScope, WebhookEndpointRepository } from './webhook-endpoint.repository';
import { MAX_WEBHOOK_URL_LENGTH, checkWebhookUrl, type WebhookUrlPolicy } from './url-policy';

/** Who an endpoint belongs to: a user (receives only their own events) or the platform (receives all events). */
export type WebhookOwner = { userId: string } | { platform: true };

/**
 * Who may act on an existing endpoint: its owning user, the platform (platform endpoints only), or an
 * administrator (any endpoint, e.g. to inspect a customer's delivery log). Authorisation of `platform`/`admin`
 * is the caller's job (permissions.ts); this service only scopes the rows.
 */
export type WebhookAccess = WebhookOwner | { admin: true };

/** An endpoint as its owner sees it. The secret is never part of it. */
export interface WebhookEndpointView {
  id: string;
  /** Null for a platform endpoint. */
  ownerUserId: string | null;
  url: string;
  description: string | null;
  /** Subscribed event types; empty means every type. */
  events: string[];
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Returned by create and rotateSecret: the only moments the signing secret is shown. */
export interface WebhookEndpointWithSecret {
  endpoint: WebhookEndpointView;
  /** `whsec_` + 32 random bytes (base64url). Store it; it cannot be read again, only rotated. */
  secret: string;
}

export interface CreateWebhookEndpointInput {
  url: string;
  /** Event types from `WEBHOOK_EVENT_TYPES`; empty subscribes to every type (including ones added later). */
  events: string[];
  description?: string | null;
}

export interface UpdateWebhookEndpointInput {
  url?: string;
  events?: string[];
  description?: string | null;
  active?: boolean;
}

export interface WebhookEndpointService {
  /**
   * Registers an endpoint and returns its signing secret once.
   * @throws ValidationError (WEBHOOK_URL_INVALID / WEBHOOK_EVENT_TYPE_UNKNOWN) for a bad URL or event type.
   * @throws ConflictError (WEBHOOK_ENDPOINT_LIMIT) when the owner already has `maxEndpointsPerOwner`.
   */
  create(
    owner: WebhookOwner,
    input: CreateWebhookEndpointInput,
    actor?: AuditActorFields,
  ): Promise<WebhookEndpointWithSecret>;
  /** The owner's endpoints, oldest first. */
  list(owner: WebhookOwner): Promise<WebhookEndpointView[]>;
  /** @throws NotFoundError (WEBHOOK_ENDPOINT_NOT_FOUND), also for an endpoint the caller may not see. */
  get(access: WebhookAccess, endpointId: string): Promise<WebhookEndpointView>;
  /** Changes url/events/description/active (validated like create). */
  update(
    access: WebhookAccess,
    endpointId: string,
    input: UpdateWebhookEndpointInput,
    actor?: AuditActorFields,
  ): Promise<WebhookEndpointView>;
  /** Removes the endpoint and (cascade) its delivery log. */
  delete(access: WebhookAccess, endpointId: string, actor?: AuditActorFields): Promise<void>;
  /** Replaces the signing secret at once (the old one stops verifying) and returns the new one once. */
  rotateSecret(
    access: WebhookAccess,
    endpointId: string,
    actor?: AuditActorFields,
  ): Promise<WebhookEndpointWithSecret>;
}

export interface WebhookEndpointServiceOptions extends WebhookUrlPolicy {
  endpoints: WebhookEndpointRepository;
  /** Encrypts signing secrets at rest (the envelope is bound to the endpoint id). */
  cipher: EnvelopeCipher;
  /** Per user, and for the platform. Default {@link MAX_WEBHOOK_ENDPOINTS_PER_OWNER}. */
  maxEndpointsPerOwner?: number;
}

export const MAX_WEBHOOK_ENDPOINTS_PER_OWNER = 10;

/** Audit actions written by the outbound webhooks. Stored verbatim; never rename one. */
export const WebhookAuditAction = {
  ENDPOINT_CREATED: 'WEBHOOK_ENDPOINT_CREATED',
  ENDPOINT_UPDATED: 'WEBHOOK_ENDPOINT_UPDATED',
  ENDPOINT_DELETED: 'WEBHOOK_ENDPOINT_DELETED',
  SECRET_ROTATED: 'WEBHOOK_SECRET_ROTATED',
  DELIVERY_REPLAYED: 'WEBHOOK_DELIVERY_REPLAYED',
} as const;

export type WebhookAuditAction = (typeof WebhookAuditAction)[keyof typeof WebhookAuditAction];

/** Associated data binding a stored secret to its endpoint: an envelope copied to another row does not decrypt. */
export const webhookSecretAad = (endpointId: string): string => `webhook-endpoint:${endpointId}`;

export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

function toView(row: EndpointRow): WebhookEndpointView {
  return {
    id: row.id,
    ownerUserId: row.userId,
    url: row.url,
    description: row.description,
    events: row.eventTypes,
    active: row.active,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The `where` fragment scoping endpoints to what `access` may see. */
export function endpointScope(access: WebhookAccess): EndpointScope {
  if ('admin' in access) return {};
  if ('platform' in access) return { userId: null };
  return { userId: access.userId };
}

export function badInput(reason: WebhookErrorCode, message: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason } });
}

export function endpointNotFound(): NotFoundError {
  return new NotFoundError('Webhook endpoint not found', {
    details: { reason: WebhookErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND },
  });
}

const eventsSchema = z
  .array(z.string().max(100))
  .max(WEBHOOK_EVENT_TYPES.length)
  .transform((events) => [...new Set(events)]);
const descriptionSchema = z.string().trim().max(500).nullable().optional();
const createSchema = z.object({
  url: z.string().trim().min(1).max(MAX_WEBHOOK_URL_LENGTH),
  events: eventsSchema,
  description: descriptionSchema,
});
const updateSchema = z.object({
  url: z.string().trim().min(1).max(MAX_WEBHOOK_URL_LENGTH).optional(),
  events: eventsSchema.optional(),
  description: descriptionSchema,
  active: z.boolean().optional(),
});

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) throw ValidationError.fromZod(result.error);
  return result.data;
}

/** Endpoint registration and management; see {@link WebhookEndpointService}. */
export function createWebhookEndpointService(options: WebhookEndpointServiceOptions): WebhookEndpointService {
  const { endpoints, cipher } = options;
  const maxPerOwner = options.maxEndpointsPerOwner ?? MAX_WEBHOOK_ENDPOINTS_PER_OWNER;
  const policy: WebhookUrlPolicy = {
    allowHttp: options.allowHttp ?? false,
    allowPrivateNetworks: options.allowPrivateNetworks ?? false,
  };

  function validUrl(value: string): string {
    const check = checkWebhookUrl(value, policy);
    if (!check.ok) {
      throw badInput(WebhookErrorCode.WEBHOOK_URL_INVALID, check.message);
    }
    return check.url.href;
  }

  function validEvents(events: string[]): string[] {
    const unknown = events.filter((event) => !isWebhookEventType(event));
    if (unknown.length > 0) {
      throw badInput(
        WebhookErrorCode.WEBHOOK_EVENT_TYPE_UNKNOWN,
        `Unknown event type (allowed: ${WEBHOOK_EVENT_TYPES.join(', ')})`,
      );
    }
    return events;
  }

  async function find(access: WebhookAccess, endpointId: string): Promise<EndpointRow> {
    if (!isUuid(endpointId)) throw endpointNotFound();
    if ('userId' in access && !isUuid(access.userId)) throw endpointNotFound();
    const row = await endpoints.findInScope(endpointId, endpointScope(access));
    if (!row) throw endpointNotFound();
    return row;
  }

  function auditFields(access: WebhookAccess, actor: AuditActorFields | undefined): AuditActorFields {
    return actor ?? { actorUserId: 'userId' in access ? access.userId : null };
  }

  return {
    async create(owner, input, actor) {
      const data = parse(createSchema, input);
      const url = validUrl(data.url);
      const events = validEvents(data.events);
      const userId = 'userId' in owner ? owner.userId : null;
      if (userId !== null && !isUuid(userId)) throw new NotFoundError('User not found');
      const id = randomUUID();
      const secret = generateWebhookSecret();
      const row = await endpoints.transaction(async (unit) => {
        // Serialises creations per owner so two concurrent requests cannot both pass the limit check.
        await unit.lockOwner(userId);
        const count = await unit.countOfOwner(userId);
        if (count >= maxPerOwner) {
          throw new ConflictError(`At most ${maxPerOwner} webhook endpoints are allowed`, {
            details: { reason: WebhookErrorCode.WEBHOOK_ENDPOINT_LIMIT, limit: maxPerOwner },
          });
        }
        const created = await unit.insert({
          id,
          userId,
          url,
          description: data.description ?? null,
          eventTypes: events,
          secretEncrypted: cipher.encrypt(secret, webhookSecretAad(id)),
        });
        await unit.audit({
          action: WebhookAuditAction.ENDPOINT_CREATED,
          outcome: 'SUCCESS',
          ...auditFields(owner, actor),
          targetType: 'WebhookEndpoint',
          targetId: id,
          metadata: { ownerUserId: userId, url, events },
        });
        return created;
      });
      return { endpoint: toView(row), secret };
    },

    async list(owner) {
      if ('userId' in owner && !isUuid(owner.userId)) return [];
      const rows = await endpoints.listInScope(endpointScope(owner));
      return rows.map(toView);
    },

    async get(access, endpointId) {
      return toView(await find(access, endpointId));
    },

    async update(access, endpointId, input, actor) {
      const data = parse(updateSchema, input);
      const existing = await find(access, endpointId);
      const changes = {
        ...(data.url === undefined ? {} : { url: validUrl(data.url) }),
        ...(data.events === undefined ? {} : { eventTypes: validEvents(data.events) }),
        ...(data.description === undefined ? {} : { description: data.description }),
        ...(data.active === undefined ? {} : { active: data.active }),
      };
      const row = await endpoints.transaction(async (unit) => {
        const updated = await unit.update(existing.id, changes);
        await unit.audit({
          action: WebhookAuditAction.ENDPOINT_UPDATED,
          outcome: 'SUCCESS',
          ...auditFields(access, actor),
          targetType: 'WebhookEndpoint',
          targetId: existing.id,
          metadata: {
            changed: Object.keys(changes),
            url: updated.url,
            events: updated.eventTypes,
            active: updated.active,
          },
        });
        return updated;
      });
      return toView(row);
    },

    async delete(access, endpointId, actor) {
      const existing = await find(access, endpointId);
      await endpoints.transaction(async (unit) => {
        await unit.delete(existing.id);
        await unit.audit({
          action: WebhookAuditAction.ENDPOINT_DELETED,
          outcome: 'SUCCESS',
          ...auditFields(access, actor),
          targetType: 'WebhookEndpoint',
          targetId: existing.id,
          metadata: { ownerUserId: existing.userId, url: existing.url },
        });
      });
    },

    async rotateSecret(access, endpointId, actor) {
      const existing = await find(access, endpointId);
      const secret = generateWebhookSecret();
      const row = await endpoints.transaction(async (unit) => {
        const updated = await unit.setSecret(
          existing.id,
          cipher.encrypt(secret, webhookSecretAad(existing.id)),
        );
        await unit.audit({
          action: WebhookAuditAction.SECRET_ROTATED,
          outcome: 'SUCCESS',
          ...auditFields(access, actor),
          targetType: 'WebhookEndpoint',
          targetId: existing.id,
        });
        return updated;
      });
      return { endpoint: toView(row), secret };
    },
  };
}
