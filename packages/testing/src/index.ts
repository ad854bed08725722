export { createTestDatabase, testDatabaseUrl, type TestDatabase } from './test-database';
export { deleteRedisKeys, redisUrlForTests, testRedisUrl, uniqueTestPrefix } from './redis';
export { recordSqlStatements, type SqlStatementRecorder } from './sql-statements';
export { waitFor } from './wait-for';
export { startTestSmtpServer, type CapturedMail, type SmtpReply, type TestSmtpServer } from './smtp';
export {
  decodeBase32,
  encodeBase32,
  hotp,
  parseOtpauthUri,
  totp,
  totpStep,
  type HotpOptions,
  type OtpAlgorithm,
  type OtpauthUri,
  type TotpOptions,
} from './totp';
export {
  startFakeTwilio,
  type FakeTwilioFailure,
  type FakeTwilioMessage,
  type FakeTwilioOptions,
  type FakeTwilioServer,
} from './twilio';
export {
  startTestOidcProvider,
  type TestOidcAccount,
  type TestOidcClient,
  type TestOidcProvider,
  type TestOidcProviderOptions,
} from './oidc-provider';
export {
  FAKE_FACEBOOK_GRAPH_VERSION,
  followOAuthRedirects,
  startFakeFacebook,
  startFakeGitHub,
  type CookieJar,
  type FakeFacebook,
  type FakeFacebookEndpoint,
  type FakeFacebookUser,
  type FakeGitHub,
  type FakeGitHubEndpoint,
  type FakeGitHubUser,
  type FakeHttpResponse,
  type FakeOAuthAppOptions,
  type FakeOAuthServer,
  type FakeRequestRecord,
  type FollowRedirectsOptions,
} from './oauth-fakes';
export { startTestS3Server, type TestS3Server, type TestS3ServerOptions } from './s3';
export {
  decodeStripeForm,
  FAKE_STRIPE_TEST_CARDS,
  startFakeStripe,
  type FakeStripe,
  type FakeStripeChargeOutcome,
  type FakeStripeEventOptions,
  type FakeStripeFailure,
  type FakeStripeObject,
  type FakeStripeOptions,
  type FakeStripeRequest,
  type FakeStripeSendOptions,
  type FakeStripeTestCard,
} from './stripe-fake';
export { testSecrets } from './secrets';
