import { requestKey } from '../cache/index.js'
import { unknownParamsError } from '../directives/index.js'
import { FluxError } from '../errors.js'
import type { CanonicalRequest, Directive } from '../types.js'
import { type RequestDefaults, resolveRequest } from './resolve-request.js'

/** One image to have: a canonical request, its key, and every directive that asks for it. */
export interface PlanItem {
  key: string
  request: CanonicalRequest
  directives: Directive[]
}

export interface Plan {
  items: PlanItem[]
  /** Directives that could not be resolved (unknown size, empty prompt, misspelt option...), located. */
  errors: FluxError[]
}

/** Resolves directives to canonical requests and dedupes them by key: identical requests are planned once. */
export function planRequests(directives: readonly Directive[], options: RequestDefaults): Plan {
  const byKey = new Map<string, PlanItem>()
  const errors: FluxError[] = []
  for (const directive of directives) {
    if (directive.unknownParams?.length) {
      errors.push(unknownParamsError(directive.unknownParams, directive.location))
      continue
    }
    let request: CanonicalRequest
    try {
      request = resolveRequest(directive, options)
    } catch (err) {
      if (!FluxError.is(err)) throw err
      errors.push(err)
      continue
    }
    const key = requestKey(request)
    const item = byKey.get(key)
    if (item) item.directives.push(directive)
    else byKey.set(key, { key, request, directives: [directive] })
  }
  return { items: [...byKey.values()], errors }
}
