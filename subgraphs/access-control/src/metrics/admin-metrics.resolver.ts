import type { QueryResolvers } from '../generated/graphql';

/** `Query.adminMetrics`: the `users:read` rule has run; the service validates the period. */
export const adminMetrics: NonNullable<QueryResolvers['adminMetrics']> = (
  _parent,
  { from, to },
  { metrics },
) => metrics.snapshot({ from: from ?? null, to: to ?? null });
