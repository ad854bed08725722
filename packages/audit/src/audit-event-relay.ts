import { AUDIT_EVENTS_TOPIC } from '@gatehouse/events';
import pg from 'pg';

/** The NOTIFY channel the `audit_logs_notify` trigger (migration `audit_notify`) announces committed rows on. */
export const AUDIT_NOTIFY_CHANNEL = 'audit_events';
/** The event-bus topic the relay republishes them on (the gateway's admin-only `auditEvents` feed). */
export { AUDIT_EVENTS_TOPIC };

/** What the trigger announces: identifiers and the action only (no metadata, address or user agent). */
export interface AuditEventNotice {
  id: string;
  action: string;
  outcome: string;
  actorUserId: string | null;
  impersonatorUserId: string | null;
  targetType: string | null;
  targetId: string | null;
  createdAt: string;
}

export interface AuditEventRelayOptions {
  /**
   * How to reach the service's database (its URL, or a pool's `options`): the relay holds one connection of its
   * own, since LISTEN needs a dedicated one. `search_path` (options) selects the schema whose rows it relays.
   */
  connection: pg.ClientConfig;
  /** Where notices go (the shared event bus). */
  publish(topic: string, notice: AuditEventNotice): Promise<void>;
  logger: { warn(details: object, message: string): void; error(details: object, message: string): void };
  /** First reconnect delay; doubled up to 30 s. Default 500 ms. */
  retryDelayMs?: number;
}

export interface AuditEventRelay {
  /** Resolves once the first LISTEN is in place (rejects if the first connection fails; it keeps retrying). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Relays committed audit rows from PostgreSQL onto the event bus. The trigger runs inside the writing transaction,
 * and PostgreSQL delivers a NOTIFY only when that transaction commits, so a rolled-back write never shows up in the
 * live feed — whichever service wrote the row. One relay per deployment is enough, more are harmless duplicates
 * only if several run (run it in one service: access-control).
 *
 * Channels are per database while tables are per schema: the relay keeps only notices from its own schema (tests
 * run many schemas in one database). A lost connection is re-established with backoff; notices sent while it was
 * down are lost (the feed is a live view; the audit log itself is complete).
 */
export function startAuditEventRelay(options: AuditEventRelayOptions): AuditEventRelay {
  const { connection, publish, logger } = options;
  const baseDelay = options.retryDelayMs ?? 500;
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = baseDelay;

  async function connect(): Promise<void> {
    const next = new pg.Client(connection);
    client = next;
    next.on('error', (err) => {
      // Closing (or the database shutting down after we closed) is not a lost connection.
      if (closed || client !== next) return;
      logger.warn({ err }, 'audit event relay: connection lost');
      scheduleReconnect(next);
    });
    next.on('end', () => scheduleReconnect(next));
    await next.connect();
    const { rows } = await next.query<{ schema: string }>('SELECT current_schema() AS schema');
    const schema = rows[0]?.schema;
    next.on('notification', (message) => {
      if (message.channel !== AUDIT_NOTIFY_CHANNEL || !message.payload) return;
      // Cheap pre-filter before parsing: json_build_object writes the schema first (`{"schema" : "<name>", ...`).
      if (!message.payload.includes(`"${schema}"`)) return;
      let parsed: (AuditEventNotice & { schema?: string }) | undefined;
      try {
        parsed = JSON.parse(message.payload) as AuditEventNotice & { schema?: string };
      } catch (err) {
        logger.warn({ err }, 'audit event relay: unreadable notice');
        return;
      }
      if (parsed.schema !== schema) return;
      const { schema: _schema, ...notice } = parsed;
      publish(AUDIT_EVENTS_TOPIC, notice).catch((err: unknown) => {
        logger.warn({ err, id: notice.id }, 'audit event relay: not published');
      });
    });
    await next.query(`LISTEN ${AUDIT_NOTIFY_CHANNEL}`);
    delay = baseDelay;
  }

  function scheduleReconnect(failed: pg.Client): void {
    if (closed || client !== failed || retryTimer) return;
    client = undefined;
    failed.end().catch(() => undefined);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect().catch((err: unknown) => {
        logger.warn({ err }, 'audit event relay: reconnect failed');
        if (client) scheduleReconnect(client);
      });
    }, delay);
    retryTimer.unref();
    delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
  }

  const ready = connect().catch((err: unknown) => {
    logger.error({ err }, 'audit event relay: first connection failed; retrying');
    if (client) scheduleReconnect(client);
    throw err;
  });
  // `ready` is for callers that care; an unobserved first failure must not crash the process.
  ready.catch(() => undefined);

  return {
    ready,
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
