import pLimit from 'p-limit'
import type { CacheStatus, OriginalStore } from '../cache/index.js'
import type { FluxError } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import type { Directive } from '../types.js'
import { type PlanItem, planRequests } from './plan.js'
import { scanProject } from './scan-project.js'

/** Cache checks at once during a scan: each is a stat or a hash, and a scan may check thousands. */
const STATUS_CONCURRENCY = 8

export interface ScannedItem extends PlanItem {
  status: CacheStatus
}

export interface ScanReport {
  directives: Directive[]
  items: ScannedItem[]
  /** Unreadable files, malformed frontmatter, unresolvable directives, misspelt options: each located. */
  errors: FluxError[]
  /** Likely mistakes that do not stop the build, located (none today: a misspelt option is an error). */
  warnings: string[]
  files: string[]
}

/** Every directive of the project, planned (one item per key) and checked against the cache. */
export async function scanReport({
  options,
  cache,
}: {
  options: ResolvedOptions
  cache: OriginalStore
}): Promise<ScanReport> {
  const found = await scanProject(options)
  const plan = planRequests(found.directives, options)
  const limit = pLimit(STATUS_CONCURRENCY)
  const items = await Promise.all(
    plan.items.map((item) => limit(async () => ({ ...item, status: await cache.check(item.key) }))),
  )
  return {
    directives: found.directives,
    items,
    errors: [...found.errors, ...plan.errors],
    warnings: [],
    files: found.files,
  }
}
