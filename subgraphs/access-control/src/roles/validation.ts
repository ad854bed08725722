import { z } from 'zod';

/** Role names are identifiers (they travel in access tokens and appear in rules): `^[a-z][a-z0-9_-]{1,63}$`. */
export const roleNameSchema = z.string().regex(/^[a-z][a-z0-9_-]{1,63}$/, {
  error:
    'Use 2 to 64 characters: lower-case letters, digits, "_" and "-", starting with a lower-case letter.',
});

const DESCRIPTION_MAX_LENGTH = 500;
const MAX_PERMISSION_KEYS = 200;

/** Trimmed; an empty description is stored as none. */
const descriptionSchema = z
  .string()
  .trim()
  .max(DESCRIPTION_MAX_LENGTH, { error: `Use at most ${DESCRIPTION_MAX_LENGTH} characters.` })
  .transform((value) => (value === '' ? null : value))
  .nullable();

/** Deduplicated and sorted, so audit entries and comparisons do not depend on the order the client sent. */
const permissionKeysSchema = z
  .array(z.string().max(100))
  .max(MAX_PERMISSION_KEYS, { error: `Grant at most ${MAX_PERMISSION_KEYS} permissions directly.` })
  .transform((keys) => [...new Set(keys)].sort());

/** `createRole`'s input. Ids are not validated here: a malformed id simply names no role (ROLE_NOT_FOUND). */
export const createRoleInputSchema = z.object({
  name: roleNameSchema,
  description: descriptionSchema.optional().transform((value) => value ?? null),
  parentId: z
    .string()
    .nullable()
    .optional()
    .transform((value) => value ?? null),
  permissionKeys: permissionKeysSchema.optional().transform((value) => value ?? []),
});

export type CreateRoleInput = z.output<typeof createRoleInputSchema>;

/**
 * `updateRole`'s input: an omitted field (undefined) stays as it is. `null` means "none" for description and
 * parent; GraphQL `null` for `name`/`permissionKeys` (non-null in meaning) is treated as omitted.
 */
export const updateRoleInputSchema = z.object({
  name: roleNameSchema.nullish().transform((value) => value ?? undefined),
  description: descriptionSchema.optional(),
  parentId: z.string().nullable().optional(),
  permissionKeys: permissionKeysSchema.nullish().transform((value) => value ?? undefined),
});

export type UpdateRoleInput = z.output<typeof updateRoleInputSchema>;
