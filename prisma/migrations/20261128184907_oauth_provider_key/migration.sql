-- Providers become keys (`google`, `facebook`, `github`, `oidc-<name>`) so any configured OpenID Connect
-- provider can be linked; existing rows keep their provider, lower-cased. The unique index is rebuilt by the
-- type change.
ALTER TABLE "oauth_accounts"
  ALTER COLUMN "provider" TYPE VARCHAR(64) USING lower("provider"::text),
  ADD COLUMN "email_verified" BOOLEAN NOT NULL DEFAULT false;

-- DropEnum
DROP TYPE "oauth_provider";
