-- Issue #14: second-factor attempts are counted on their own, durably (a Redis flush forgets nothing) and apart
-- from failed_login_count (a correct password does not clear them).
-- AlterTable
ALTER TABLE "users" ADD COLUMN     "last_mfa_failed_at" TIMESTAMPTZ(3),
ADD COLUMN     "mfa_failed_count" INTEGER NOT NULL DEFAULT 0;
