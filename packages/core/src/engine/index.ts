export { costByModel, plannedCost, priceOf } from './cost.js'
export { type Plan, type PlanItem, planRequests } from './plan.js'
export {
  createProgress,
  formatDuration,
  type Progress,
  type ProgressCounters,
  type ProgressStream,
} from './progress.js'
export { resolveRequest } from './resolve-request.js'
export { type ProjectScan, scanProject } from './scan-project.js'
export { type RekeyCause, type UnusedOriginal, unusedOriginals } from './unused-originals.js'
