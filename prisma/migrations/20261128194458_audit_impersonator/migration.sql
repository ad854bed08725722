-- AlterTable
ALTER TABLE "audit_logs" ADD COLUMN     "impersonator_user_id" UUID;

-- CreateIndex
CREATE INDEX "audit_logs_impersonator_user_id_created_at_idx" ON "audit_logs"("impersonator_user_id", "created_at");
