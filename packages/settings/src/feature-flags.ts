import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Flag keys are identifiers: lower-case words separated by `.`, `-` or `_`, e.g. `billing.new-checkout`. */
export const featureFlagKeySchema = z
  .string()
  .regex(/^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$/, {
    error: 'Use lower-case letters, digits, ".", "-" and "_".',
  })
  .max(100);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What `setFlag` accepts. */
export const featureFlagInputSchema = z.strictObject({
  /** The kill switch: off means off for everyone, allow-list included. */
  enabled: z.boolean(),
  /** Share of signed-in users (0 to 100) who get the flag, chosen by a stable hash of flag key and user id. */
  rolloutPercent: z.number().int().min(0).max(100),
  /** Users who get the flag whatever the rollout (when enabled). Deduplicated, lower-cased, sorted. */
  userIds: z
    .array(z.string().regex(UUID, { error: 'Not a user id.' }))
    .max(1000)
    .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))].sort()),
  description: z
    .string()
    .trim()
    .max(500)
    .nullish()
    .transform((text) => (text ? text : null)),
});

export type FeatureFlagInput = z.input<typeof featureFlagInputSchema>;

/** A flag's configuration as stored and evaluated. */
export interface FeatureFlagConfig {
  key: string;
  enabled: boolean;
  rolloutPercent: number;
  userIds: string[];
  description: string | null;
  /** ISO timestamp of the last change. */
  updatedAt: string;
}

/**
 * `feature_flags.rules` holds the targeting as a JSON array (the table's documented place for rules):
 * `[{ "type": "users", "userIds": [...] }, { "type": "percentage", "percent": 25 }]`.
 */
const rulesSchema = z.array(
  z.discriminatedUnion('type', [
    z.object({ type: z.literal('users'), userIds: z.array(z.string()) }),
    z.object({ type: z.literal('percentage'), percent: z.number().min(0).max(100) }),
  ]),
);

/** Rules JSON for a configuration. */
export function rulesOf(config: Pick<FeatureFlagConfig, 'rolloutPercent' | 'userIds'>): object[] {
  return [
    { type: 'users', userIds: config.userIds },
    { type: 'percentage', percent: config.rolloutPercent },
  ];
}

/**
 * Allow-list and rollout from a stored `rules` value. Unreadable rules (hand-edited rows) give no allow-list and
 * 0 % rather than an exception: a flag fails closed.
 */
export function targetingFromRules(rules: unknown): { rolloutPercent: number; userIds: string[] } {
  const parsed = rulesSchema.safeParse(rules);
  if (!parsed.success) return { rolloutPercent: 0, userIds: [] };
  let rolloutPercent = 0;
  const userIds: string[] = [];
  for (const rule of parsed.data) {
    if (rule.type === 'users') userIds.push(...rule.userIds);
    else rolloutPercent = rule.percent;
  }
  return { rolloutPercent, userIds };
}

/**
 * The user's bucket for a flag, 0 to 99: the first 4 bytes of sha256(`<flagKey>:<userId>`) modulo 100. Stable
 * across processes and releases, and independent between flags (a user in the first 10 % of one flag is not
 * in the first 10 % of every flag).
 */
export function rolloutBucket(flagKey: string, userId: string): number {
  const digest = createHash('sha256').update(`${flagKey}:${userId.toLowerCase()}`).digest();
  return digest.readUInt32BE(0) % 100;
}

/**
 * Whether a flag is on for a user: never when the flag is missing or disabled; always for allow-listed users;
 * otherwise when the user's bucket is below the rollout percentage. Anonymous callers get it only at 100 %.
 */
export function evaluateFlag(config: FeatureFlagConfig | null, userId?: string | null): boolean {
  if (!config || !config.enabled) return false;
  if (config.rolloutPercent >= 100) return true;
  if (!userId) return false;
  if (config.userIds.includes(userId.toLowerCase())) return true;
  return rolloutBucket(config.key, userId) < config.rolloutPercent;
}
