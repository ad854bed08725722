-- AlterEnum
ALTER TYPE "session_revoke_reason" ADD VALUE 'SESSION_LIMIT_EXCEEDED';
