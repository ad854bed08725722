export { createTestDatabase, testDatabaseUrl, type TestDatabase } from './test-database';
export { deleteRedisKeys, redisUrlForTests, testRedisUrl, uniqueTestPrefix } from './redis';
export { recordSqlStatements, type SqlStatementRecorder } from './sql-statements';
export { waitFor } from './wait-for';
export { startTestSmtpServer, type CapturedMail, type SmtpReply, type TestSmtpServer } from './smtp';
