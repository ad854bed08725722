import type { LoginResultResolvers } from '../generated/graphql';

export const LoginResult: LoginResultResolvers = {
  __resolveType: (result) => ('mfaToken' in result ? 'MfaChallenge' : 'AuthPayload'),
};
