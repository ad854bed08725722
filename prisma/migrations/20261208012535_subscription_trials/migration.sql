-- Issue #14: one free trial per user and plan family (the plan's code), enforced by the primary key so that
-- concurrent subscribes cannot both start one.
-- CreateTable
CREATE TABLE "subscription_trials" (
    "user_id" UUID NOT NULL,
    "plan_family" TEXT NOT NULL,
    "subscription_id" UUID,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "subscription_trials_pkey" PRIMARY KEY ("user_id","plan_family")
);

-- AddForeignKey
ALTER TABLE "subscription_trials" ADD CONSTRAINT "subscription_trials_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Trials taken before this table existed count too: the earliest trialing subscription per user and plan.
INSERT INTO "subscription_trials" ("user_id", "plan_family", "subscription_id", "started_at")
SELECT DISTINCT ON (s."user_id", p."code") s."user_id", p."code", s."id", s."created_at"
  FROM "subscriptions" s JOIN "subscription_plans" p ON p."id" = s."plan_id"
 WHERE s."trial_ends_at" IS NOT NULL
 ORDER BY s."user_id", p."code", s."created_at";
