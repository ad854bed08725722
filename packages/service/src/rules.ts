import { allow, and, deny, not, or, rule, type IRule } from 'graphql-shield';
import { AuthenticationError, ForbiddenError } from '@gatehouse/errors';
import type { BaseContext } from './context';

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

/** The viewer holds the `admin` role. */
export const isAdmin: IRule = rule('isAdmin', { cache: 'contextual' })(
  (_parent: unknown, _args: unknown, ctx: BaseContext) =>
    requireViewer(ctx) ?? ctx.viewer?.roles.includes(ADMIN_ROLE) === true,
);

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

/** The parent is the viewer's own user, or the viewer is an administrator. */
export const isSelfOrAdmin: ShieldRule = or(isAdmin, isSelf);
