import { AuthenticationError } from '@gatehouse/errors';
import { viewerPermissions } from '@gatehouse/service';
import type { Context } from '../context';
import type { Actor } from '../roles';
import type { SettingsChangeAuthor } from '../settings';

/** The viewer's user id. The permission rules already refused anonymous callers; this keeps the types honest. */
export function viewerId(ctx: Context): string {
  if (!ctx.viewer) throw new AuthenticationError();
  return ctx.viewer.userId;
}

/** The viewer as the author of a change, with the live permissions the rules checked (memoised per request). */
export async function actorOf(ctx: Context): Promise<Actor> {
  return { userId: viewerId(ctx), requestId: ctx.requestId, permissions: await viewerPermissions(ctx) };
}

/** The viewer as the author of a settings change (the audit trail records the impersonator too). */
export function changeAuthorOf(ctx: Context): SettingsChangeAuthor {
  if (!ctx.viewer) throw new AuthenticationError();
  return { viewer: ctx.viewer, requestId: ctx.requestId };
}
