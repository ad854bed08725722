export {
  createPlanAdmin,
  type CreatePlanInput,
  type PlanAdmin,
  type PlanAuditAction,
  type UpdatePlanInput,
} from './plan-admin';
export {
  createPlanAdminRepository,
  createPlanRepository,
  type PlanAdminRepository,
  type PlanRepository,
} from './plan.repository';
export { createPlanService, type PlanService } from './plan.service';
export { PlanErrorCode } from './error-codes';
