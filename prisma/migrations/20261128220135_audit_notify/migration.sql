-- Announces every audit row after its transaction commits (NOTIFY is delivered only on COMMIT, never for a
-- rolled-back write), for the gateway's admin-only `auditEvents` subscription (relayed onto the event bus by
-- access-control: @gatehouse/audit startAuditEventRelay).
--
-- A listener (`LISTEN audit_events` on a dedicated pg connection, reconnecting with backoff; in access-control,
-- which owns the audit trail) re-publishes each payload on the event bus topic `audit.events`, keeping only the
-- payloads whose `schema` is its own (tests run many schemas in one database, and NOTIFY channels are per
-- database). The gateway validates the payload (gateway/src/realtime/topics.ts `auditEventPayload`).
--
-- Only identifiers and the action go out: no metadata, IP address or user agent (NOTIFY payloads are limited to
-- 8000 bytes, and every administrator's socket receives them).
CREATE OR REPLACE FUNCTION "audit_logs_notify"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(
    'audit_events',
    json_build_object(
      'schema', TG_TABLE_SCHEMA,
      'id', NEW."id",
      'action', NEW."action",
      'outcome', COALESCE(NEW."metadata"->>'outcome', 'SUCCESS'),
      'actorUserId', NEW."actor_user_id",
      'impersonatorUserId', NEW."impersonator_user_id",
      'targetType', left(NEW."target_type", 100),
      'targetId', left(NEW."target_id", 200),
      'createdAt', to_char(NEW."created_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    )::text
  );
  RETURN NULL;
END;
$$;

-- On the partitioned parent: PostgreSQL (13+) clones the row trigger to every current and future partition.
DROP TRIGGER IF EXISTS "audit_logs_notify" ON "audit_logs";
CREATE TRIGGER "audit_logs_notify"
  AFTER INSERT ON "audit_logs"
  FOR EACH ROW EXECUTE FUNCTION "audit_logs_notify"();
