-- CreateTable
CREATE TABLE "api_usage_daily" (
    "day" DATE NOT NULL,
    "operation" TEXT NOT NULL,
    "operation_type" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "count" BIGINT NOT NULL,

    CONSTRAINT "api_usage_daily_pkey" PRIMARY KEY ("day","operation","operation_type","outcome")
);
