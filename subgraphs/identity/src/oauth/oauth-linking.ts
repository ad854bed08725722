/** Linking a provider identity to a signed-in user (at the callback or completed by the app), and unlinking. */
import { ConflictError, NotFoundError } from '@gatehouse/errors';
import { AuditAction } from '../audit';
import { CredentialErrorCode } from '../credentials';
import type { ClientInfo } from '../client-info';
import { OAuthErrorCode } from './error-codes';
import type { OAuthAccountData } from './oauth-account.repository';
import type { PendingFlow } from './oauth-state';
import type { OAuthService } from './oauth.service';
import { PROVIDER_KEY, badInput, unauthenticated, type OAuthToolkit } from './oauth-toolkit';

export interface LinkingSteps extends Pick<OAuthService, 'completeLink' | 'listLinked' | 'unlink'> {
  /** Rule b (see oauth-callback.ts): links at the callback; the refusal reason, or null when linked. */
  linkAtCallback(
    flow: PendingFlow,
    linkUserId: string,
    account: OAuthAccountData,
    client: ClientInfo,
  ): Promise<string | null>;
}

export function createLinkingSteps(toolkit: OAuthToolkit): LinkingSteps {
  const { repository, record, redeem, linkedAccount } = toolkit;

  async function linkAtCallback(
    flow: PendingFlow,
    linkUserId: string,
    account: OAuthAccountData,
    client: ClientInfo,
  ) {
    const linked = await repository.link(linkUserId, account);
    const reason =
      linked.status === 'LINKED'
        ? null
        : linked.status === 'IDENTITY_TAKEN'
          ? OAuthErrorCode.OAUTH_ACCOUNT_LINKED_ELSEWHERE
          : linked.status === 'PROVIDER_TAKEN'
            ? OAuthErrorCode.OAUTH_PROVIDER_ALREADY_LINKED
            : CredentialErrorCode.ACCOUNT_DEACTIVATED;
    await record(AuditAction.OAUTH_ACCOUNT_LINKED, reason ? 'FAILURE' : 'SUCCESS', client, {
      actor: linkUserId,
      target: linkUserId,
      metadata: { provider: flow.provider, ...(reason ? { reason } : {}) },
    });
    return reason;
  }

  return {
    linkAtCallback,
    async completeLink(code, state, userId, client) {
      const result = await redeem(code, state, 'link');
      if (result.kind !== 'link') throw new Error('unreachable: redeem checks the kind');
      if (result.linkUserId !== userId) {
        throw unauthenticated(OAuthErrorCode.OAUTH_STATE_INVALID, 'This link was started by another user');
      }
      const account = JSON.parse(result.account) as OAuthAccountData & { tokenExpiresAt: string | null };
      const data: OAuthAccountData = {
        ...account,
        tokenExpiresAt: account.tokenExpiresAt === null ? null : new Date(account.tokenExpiresAt),
      };
      const linked = await repository.link(userId, data);
      if (linked.status === 'LINKED') {
        await record(AuditAction.OAUTH_ACCOUNT_LINKED, 'SUCCESS', client, {
          actor: userId,
          target: userId,
          metadata: { provider: result.provider },
        });
        return linkedAccount({
          provider: data.provider,
          email: data.email,
          emailVerified: data.emailVerified,
          linkedAt: linked.linkedAt,
        });
      }
      const reason =
        linked.status === 'IDENTITY_TAKEN'
          ? OAuthErrorCode.OAUTH_ACCOUNT_LINKED_ELSEWHERE
          : OAuthErrorCode.OAUTH_PROVIDER_ALREADY_LINKED;
      await record(AuditAction.OAUTH_ACCOUNT_LINKED, 'FAILURE', client, {
        actor: userId,
        target: userId,
        metadata: { provider: result.provider, reason },
      });
      throw new ConflictError(
        reason === OAuthErrorCode.OAUTH_ACCOUNT_LINKED_ELSEWHERE
          ? 'This provider account is linked to another user'
          : 'An account of this provider is already linked',
        { details: { reason } },
      );
    },

    async listLinked(userId) {
      return (await repository.listForUser(userId)).map(linkedAccount);
    },

    async unlink(userId, provider, client) {
      const outcome = await repository.unlink(userId, provider);
      await record(
        AuditAction.OAUTH_ACCOUNT_UNLINKED,
        outcome === 'UNLINKED' ? 'SUCCESS' : 'FAILURE',
        client,
        {
          actor: userId,
          target: userId,
          metadata: {
            provider: PROVIDER_KEY.test(provider) ? provider : 'invalid',
            ...(outcome === 'UNLINKED'
              ? {}
              : {
                  reason:
                    outcome === 'NOT_FOUND'
                      ? OAuthErrorCode.OAUTH_ACCOUNT_NOT_FOUND
                      : OAuthErrorCode.OAUTH_LAST_SIGN_IN_METHOD,
                }),
          },
        },
      );
      if (outcome === 'NOT_FOUND') {
        throw new NotFoundError('No account of this provider is linked', {
          details: { reason: OAuthErrorCode.OAUTH_ACCOUNT_NOT_FOUND },
        });
      }
      if (outcome === 'LAST_SIGN_IN_METHOD') {
        throw badInput(
          OAuthErrorCode.OAUTH_LAST_SIGN_IN_METHOD,
          'Set a password or link another provider before unlinking this one',
        );
      }
    },
  };
}
