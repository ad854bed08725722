import type { EffectivePermissions, PermissionContext } from '@gatehouse/service';
import type { AuditQueryService } from './audit';
import type { Loaders } from './loaders';
import type { MetricsService } from './metrics';
import type { RoleAdminService, RoleService } from './roles';
import type { SettingsAdminService } from './settings';

/** Per-request GraphQL context of the access-control subgraph. */
export interface Context extends PermissionContext {
  loaders: Loaders;
  roles: RoleService;
  roleAdmin: RoleAdminService;
  /** Always the live reader here: role management must see its own changes at once. */
  effectivePermissions: EffectivePermissions;
  /** Reads the audit trail (admins and `audit:read`). */
  auditQueries: AuditQueryService;
  /** Platform settings and feature flags (`settings:manage`; flag evaluation for any signed-in user). */
  settingsAdmin: SettingsAdminService;
  /** Platform-wide figures for administrators (`users:read`). */
  metrics: MetricsService;
}
