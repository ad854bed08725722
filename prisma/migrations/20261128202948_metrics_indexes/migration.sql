-- CreateIndex
CREATE INDEX "payments_status_succeeded_at_idx" ON "payments"("status", "succeeded_at");

-- CreateIndex
CREATE INDEX "users_created_at_idx" ON "users"("created_at");
