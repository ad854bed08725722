-- Issue #14: a verification link is bound to why it was mailed. A link mailed because someone registered an address
-- again proves the mailbox, not the account's first credentials: verifying with it drops provider links made
-- before verification. Existing links were mailed for the sign-up that created their account.
-- CreateEnum
CREATE TYPE "verification_purpose" AS ENUM ('SIGN_UP', 'REPEAT_REGISTRATION');

-- AlterTable
ALTER TABLE "verification_tokens" ADD COLUMN     "purpose" "verification_purpose" NOT NULL DEFAULT 'SIGN_UP';
