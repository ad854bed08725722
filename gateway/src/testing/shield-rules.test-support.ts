// Test-only (excluded from the build): every subgraph's permission map next to its schema, and the checks that
// prove deny-by-default is explicit (every field has a rule, no rule names a field that does not exist).
import type { DocumentNode, GraphQLObjectType, GraphQLSchema } from 'graphql';
import { isObjectType } from 'graphql';
import {
  allow,
  buildGuardedSubgraphSchema,
  impersonationAllowance,
  isAuthenticated,
  notImpersonating,
  type PermissionMap,
} from '@gatehouse/service';
import { permissions as accessControlPermissions } from '../../../subgraphs/access-control/src/permissions';
import { typeDefs as accessControlTypeDefs } from '../../../subgraphs/access-control/src/schema';
import { permissions as accountPermissions } from '../../../subgraphs/account/src/permissions';
import { typeDefs as accountTypeDefs } from '../../../subgraphs/account/src/schema';
import { permissions as billingPermissions } from '../../../subgraphs/billing/src/permissions';
import { typeDefs as billingTypeDefs } from '../../../subgraphs/billing/src/schema';
import { permissions as identityPermissions } from '../../../subgraphs/identity/src/permissions';
import { typeDefs as identityTypeDefs } from '../../../subgraphs/identity/src/schema';
import type { SubgraphName } from '../subgraphs';

/** One entry of a permission map: a rule for the whole type, or rules per field (`'*'`: every other field). */
type PermissionEntry = PermissionMap[string];
/** A single shield rule (`allow`, `isAdmin`, `or(...)`, ...). */
export type ShieldRuleValue = Exclude<PermissionEntry, Record<string, unknown>>;

/** A subgraph's SDL and the permission map its service guards that SDL with. */
export interface SubgraphPermissions {
  name: SubgraphName;
  typeDefs: DocumentNode;
  permissions: PermissionMap;
}

/** Every subgraph of the supergraph, with its schema and rule map (the test asserts none is missing). */
export const SUBGRAPH_PERMISSIONS: readonly SubgraphPermissions[] = [
  { name: 'identity', typeDefs: identityTypeDefs, permissions: identityPermissions },
  { name: 'account', typeDefs: accountTypeDefs, permissions: accountPermissions },
  { name: 'access-control', typeDefs: accessControlTypeDefs, permissions: accessControlPermissions },
  { name: 'billing', typeDefs: billingTypeDefs, permissions: billingPermissions },
];

/** Root fields federation adds to every subgraph; the service kit allows them, a permission map must not list them. */
export const KIT_MANAGED_ROOT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Query: ['_service', '_entities'],
};

/** Object types federation adds (`_Service { sdl }`); the service kit allows them. */
export const KIT_MANAGED_TYPES: readonly string[] = ['_Service'];

/** Whether a map entry is a single rule rather than a per-field map (shield rules all have `resolve`). */
export function isShieldRule(entry: PermissionEntry | undefined): entry is ShieldRuleValue {
  return typeof (entry as { resolve?: unknown } | undefined)?.resolve === 'function';
}

/**
 * The schema the subgraph serves: `buildSubgraphSchema` (so `_service`, `_entities` and `_Service` exist) with the
 * subgraph's shield applied exactly as the service kit applies it. Resolvers are left out: the shield runs before
 * them, and default resolvers are enough to see what the shield lets through.
 */
export function guardedSubgraphSchema(
  subgraph: Pick<SubgraphPermissions, 'typeDefs' | 'permissions'>,
): GraphQLSchema {
  return buildGuardedSubgraphSchema({
    typeDefs: subgraph.typeDefs,
    resolvers: {},
    permissions: subgraph.permissions,
  });
}

function rootTypeNames(schema: GraphQLSchema): Set<string> {
  return new Set(
    [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]
      .filter((type): type is GraphQLObjectType => type !== null && type !== undefined)
      .map((type) => type.name),
  );
}

/**
 * Fields that have no explicit rule, as `Type.field: why` lines. Root types (Query, Mutation, Subscription) must
 * list every field one by one: a type-level rule or `'*'` there would silently cover fields added later. Any other
 * object type is covered by a type-level rule, a `'*'` entry, or a rule per field. Federation's own fields and
 * types must be left to the service kit.
 */
export function fieldsWithoutRules(schema: GraphQLSchema, permissions: PermissionMap): string[] {
  const problems: string[] = [];
  const roots = rootTypeNames(schema);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const entry = permissions[type.name];
    if (KIT_MANAGED_TYPES.includes(type.name)) {
      if (entry !== undefined)
        problems.push(`${type.name}: managed by the service kit, must not be in the map`);
      continue;
    }
    const fieldNames = Object.keys(type.getFields());
    if (roots.has(type.name)) {
      if (isShieldRule(entry)) {
        problems.push(`${type.name}: a type-level rule on a root type; give each field its own rule`);
      }
      const rules = isShieldRule(entry) ? {} : ((entry ?? {}) as Record<string, unknown>);
      if ('*' in rules)
        problems.push(`${type.name}.*: a wildcard on a root type; give each field its own rule`);
      const kitFields = KIT_MANAGED_ROOT_FIELDS[type.name] ?? [];
      for (const field of fieldNames) {
        if (kitFields.includes(field)) {
          if (field in rules)
            problems.push(`${type.name}.${field}: managed by the service kit, must not be in the map`);
        } else if (!(field in rules)) {
          problems.push(`${type.name}.${field}: no rule`);
        }
      }
      continue;
    }
    if (isShieldRule(entry)) continue;
    const rules = (entry ?? {}) as Record<string, unknown>;
    if ('*' in rules) continue;
    for (const field of fieldNames) {
      if (!(field in rules)) problems.push(`${type.name}.${field}: no rule`);
    }
  }
  return problems.sort();
}

/** Map entries naming a type or field the schema does not have, or holding something that is not a rule. */
export function staleRules(schema: GraphQLSchema, permissions: PermissionMap): string[] {
  const problems: string[] = [];
  for (const [typeName, entry] of Object.entries(permissions)) {
    const type = schema.getType(typeName);
    if (!type) {
      problems.push(`${typeName}: no such type`);
      continue;
    }
    if (!isObjectType(type)) {
      problems.push(`${typeName}: not an object type, shield never consults this rule`);
      continue;
    }
    if (isShieldRule(entry)) continue;
    const fields = type.getFields();
    for (const [fieldName, rule] of Object.entries(entry as Record<string, unknown>)) {
      if (fieldName !== '*' && !(fieldName in fields))
        problems.push(`${typeName}.${fieldName}: no such field`);
      else if (!isShieldRule(rule as PermissionEntry))
        problems.push(`${typeName}.${fieldName}: not a shield rule`);
    }
  }
  return problems.sort();
}

/** How a root field is guarded, for the authorization tests. */
export type RuleClass = 'public' | 'self' | 'gated';

/**
 * `public`: `allow`; `self`: `isAuthenticated` (any signed-in user, acting on their own data); `gated`: anything
 * else (`isAdmin`, permission checks, combinations) and fields without a rule, which the shield denies.
 */
export function classifyRule(rule: ShieldRuleValue | undefined): RuleClass {
  // An impersonation allow-list entry is classified by the rule it wraps (it changes nothing for other tokens).
  const allowed = impersonationAllowance(rule)?.rule;
  if (allowed !== undefined) return classifyRule(allowed as ShieldRuleValue);
  if (rule === allow) return 'public';
  // `notImpersonating` is `isAuthenticated` that also refuses impersonation tokens: a self-service rule.
  if (rule === isAuthenticated || rule === notImpersonating) return 'self';
  return 'gated';
}

/** The rule a subgraph's map gives `Type.field` (type-level or `'*'` entries included); undefined if none. */
export function ruleFor(
  permissions: PermissionMap,
  typeName: string,
  fieldName: string,
): ShieldRuleValue | undefined {
  const entry = permissions[typeName];
  if (entry === undefined || isShieldRule(entry)) return entry;
  const rules = entry as Record<string, ShieldRuleValue | undefined>;
  return rules[fieldName] ?? rules['*'];
}

/** A readable name for a rule, for failure messages (`isAdmin`, `or(isAdmin, isSelf)`). */
export function describeRule(rule: ShieldRuleValue | undefined): string {
  if (rule === undefined) return '(none: denied by the fallback)';
  const named = rule as { name?: unknown; getRules?: () => ShieldRuleValue[] };
  if (typeof named.getRules === 'function') {
    const kind = rule.constructor.name.replace(/^Rule/, '').toLowerCase();
    const inner = named.getRules();
    return inner.length > 0 ? `${kind}(${inner.map(describeRule).join(', ')})` : kind;
  }
  return typeof named.name === 'string' ? named.name : rule.constructor.name;
}
