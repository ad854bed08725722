-- CreateEnum
CREATE TYPE "data_export_status" AS ENUM ('PENDING', 'RUNNING', 'READY', 'FAILED', 'EXPIRED');

-- AlterEnum
ALTER TYPE "notification_channel" ADD VALUE 'PUSH';

-- AlterEnum
ALTER TYPE "user_status" ADD VALUE 'DELETED';

-- AlterEnum
ALTER TYPE "session_revoke_reason" ADD VALUE 'ACCOUNT_DEACTIVATED';

-- AlterEnum
ALTER TYPE "email_delivery_status" ADD VALUE 'SUPPRESSED';

-- AlterTable
ALTER TABLE "user_profiles" ADD COLUMN     "avatar_key" TEXT,
ADD COLUMN     "phone" TEXT;

-- CreateTable
CREATE TABLE "data_exports" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "status" "data_export_status" NOT NULL DEFAULT 'PENDING',
    "storage_key" TEXT,
    "size_bytes" INTEGER,
    "error" TEXT,
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "data_exports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "unsubscribe_receipts" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "channel" "notification_channel" NOT NULL,
    "category" TEXT NOT NULL,
    "used_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "unsubscribe_receipts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "data_exports_user_id_requested_at_idx" ON "data_exports"("user_id", "requested_at");

-- CreateIndex
CREATE INDEX "data_exports_status_idx" ON "data_exports"("status");

-- CreateIndex
CREATE INDEX "unsubscribe_receipts_user_id_idx" ON "unsubscribe_receipts"("user_id");

-- AddForeignKey
ALTER TABLE "data_exports" ADD CONSTRAINT "data_exports_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "unsubscribe_receipts" ADD CONSTRAINT "unsubscribe_receipts_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
