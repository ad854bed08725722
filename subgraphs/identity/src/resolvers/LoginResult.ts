import type { LoginResultResolvers } from '../generated/graphql';

export const LoginResult: LoginResultResolvers = {
  __resolveType: (result) => ('challengeId' in result ? 'MfaChallenge' : 'AuthPayload'),
};
