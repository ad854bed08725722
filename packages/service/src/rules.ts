import { allow, and, deny, not, or, rule, type IRule } from 'graphql-shield';
import { AuthenticationError, ForbiddenError } from '@gatehouse/errors';
import type { BaseContext } from './context';
import { hasPermission } from './permission-rules';

export { allow, and, deny, not, or };

/** A rule or a logic rule (`and`/`or`/`not`): what a permission map entry accepts. */
export type ShieldRule = IRule | ReturnType<typeof or>;

/** The role name that grants platform administration. */
export const ADMIN_ROLE = 'admin';

/**
 * Rules return an AuthenticationError for anonymous callers (UNAUTHENTICATED) and `false` for
 * authenticated callers without the right (shield turns that into the FORBIDDEN fallback error), so
 * clients can tell "sign in" apart from "not allowed".
 *
 * Caching: rules that only read the context are cached per request (`contextual`); rules that read the
 * parent object cannot be, and are cheap enough to run per field (`no_cache`; `strict` would hash every
 * parent object, which costs more than the check).
 */
function requireViewer(ctx: BaseContext): AuthenticationError | null {
  return ctx.viewer ? null : new AuthenticationError();
}

/** The request carries a valid access token. */
export const isAuthenticated: IRule = rule('isAuthenticated', { cache: 'contextual' })(
  (_parent: unknown, _args: unknown, ctx: BaseContext) => requireViewer(ctx) ?? true,
);

/**
 * The viewer administers the platform: holds `users:write` now (which the system `admin` role grants), read live
 * like every permission rule ({@link hasPermission}). Never the token's `roles` claim: that is as old as the token,
 * so a demoted administrator kept their access until it expired (issue #14).
 */
export const isAdmin: IRule = hasPermission('users:write');

/** The parent object is the viewer's own user (`parent.id === viewer.userId`); for `User` fields. */
export const isSelf: IRule = rule('isSelf', { cache: 'no_cache' })(
  (parent: { id?: unknown } | null | undefined, _args: unknown, ctx: BaseContext) =>
    requireViewer(ctx) ?? (parent?.id !== undefined && parent.id === ctx.viewer?.userId),
);

/** `details.reason` of the error {@link notImpersonating} answers while impersonating. */
export const IMPERSONATION_FORBIDDEN = 'IMPERSONATION_FORBIDDEN';

/**
 * The request does not come from an impersonation token (one carrying `act.sub`). For everything an administrator
 * acting as someone must not do: impersonate again, change credentials, MFA, e-mail, linked providers or roles,
 * deactivate or delete. FORBIDDEN (`IMPERSONATION_FORBIDDEN`) while impersonating; UNAUTHENTICATED for anonymous
 * callers.
 */
export const notImpersonating: IRule = rule('notImpersonating', { cache: 'contextual' })(
  (_parent: unknown, _args: unknown, ctx: BaseContext) =>
    requireViewer(ctx) ??
    (ctx.viewer?.impersonatorUserId === undefined
      ? true
      : new ForbiddenError('Not allowed while impersonating a user', {
          details: { reason: IMPERSONATION_FORBIDDEN },
        })),
);

/**
 * Not an impersonation token, or no token at all. What the service kit puts in front of every Mutation field's
 * rule (see {@link allowedWhileImpersonating}): anonymous callers pass on to the field's own rule, which decides.
 */
export const refuseImpersonation: IRule = rule('refuseImpersonation', { cache: 'contextual' })(
  (_parent: unknown, _args: unknown, ctx: BaseContext) =>
    ctx.viewer?.impersonatorUserId === undefined
      ? true
      : new ForbiddenError('Not allowed while impersonating a user', {
          details: { reason: IMPERSONATION_FORBIDDEN },
        }),
);

const impersonationAllowances = new WeakMap<object, { rule: ShieldRule; reason: string }>();

/**
 * Marks a Mutation field's rule as allowed under an impersonation token. Every other mutation is refused for such
 * a token by the service kit (FORBIDDEN, reason `IMPERSONATION_FORBIDDEN`) whatever its own rule says, so a new
 * mutation is refused by default. `reason` says why the mutation is safe for an administrator acting as the user;
 * it is there for review (and for the tests that list the allow-list).
 */
export function allowedWhileImpersonating(inner: ShieldRule, reason: string): ShieldRule {
  if (reason.trim() === '') throw new Error('allowedWhileImpersonating: say why the mutation is safe');
  // A wrapper of its own, so marking never affects the same rule used elsewhere.
  const wrapped = and(inner);
  impersonationAllowances.set(wrapped, { rule: inner, reason });
  return wrapped;
}

/** The rule and reason of an {@link allowedWhileImpersonating} entry; undefined for any other rule. */
export function impersonationAllowance(candidate: unknown): { rule: ShieldRule; reason: string } | undefined {
  return typeof candidate === 'object' && candidate !== null
    ? impersonationAllowances.get(candidate)
    : undefined;
}

/** The parent is the viewer's own user, or the viewer is an administrator ({@link isAdmin}: live, not the claim). */
export const isSelfOrAdmin: ShieldRule = or(isAdmin, isSelf);
