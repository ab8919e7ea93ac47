import type { DirectiveParams, ParsedDirective } from '../../types.js'
import { DIRECTIVE_KEYS, FLUX_SCHEME } from '../grammar/grammar.js'
import { parseDirective } from '../grammar/parse-directive.js'

/** A frontmatter directive's object form: `{ flux, size, model, quality, seed, alt, preset, ref }`. */
export interface ObjectForm {
  flux: string
  model?: string | undefined
  size?: string | undefined
  quality?: string | undefined
  seed?: string | number | undefined
  alt?: string | undefined
  preset?: string | undefined
  ref?: string | string[] | undefined
}

/**
 * The directive a frontmatter value holds, or undefined: a string `"flux: prompt?opts"`, or the
 * object form `{ flux: "prompt?opts", size, model, quality, seed, alt, preset, ref }` (`ref` may be
 * a list; the object's fields win over the query; numbers and booleans read as text; other keys are
 * ignored). The one reader of the object form: the scanner hands it the YAML's values, a host its
 * own parse of a field that no scan saw.
 */
export function fieldDirective(value: unknown): ParsedDirective | undefined {
  if (typeof value === 'string') return parseDirective(value)
  const fields = objectFields(value)
  const prompt = fields?.[0]
  if (fields === undefined || typeof prompt !== 'string') return undefined
  const parsed = parseDirective(prompt.trim().startsWith(FLUX_SCHEME) ? prompt : `${FLUX_SCHEME}${prompt}`)
  if (parsed === undefined) return undefined
  const params: DirectiveParams = { ...parsed.params }
  for (const [i, key] of DIRECTIVE_KEYS.entries()) {
    const given = fields[i + 1]
    // `ref: []` is no reference: the query's stays.
    if (Array.isArray(given)) {
      if (given.length > 0) params.ref = given.map((ref) => ref.trim())
    } else if (given !== undefined) params[key] = given.trim()
  }
  return { ...parsed, params }
}

/**
 * A frontmatter value as written, in terms a scan and a host's own YAML parse agree on: the
 * string itself, or the object form's directive fields as text; undefined for any other value.
 * Two values with the same text hold the same directive (in the same file).
 */
export function writtenField(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  const fields = objectFields(value)
  return fields && JSON.stringify(fields)
}

type Fields = [flux: string | undefined, ...params: Array<string | string[] | undefined>]

/** `flux` then each of DIRECTIVE_KEYS as text (`ref` may be a list); undefined when `value` is no object with a `flux`. */
function objectFields(value: unknown): Fields | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const record = value as Record<string, unknown>
  if (!('flux' in record)) return undefined
  const list = (given: unknown) =>
    Array.isArray(given) ? given.flatMap((item) => asText(item) ?? []) : asText(given)
  return [
    asText(record.flux),
    ...DIRECTIVE_KEYS.map((key) => (key === 'ref' ? list(record[key]) : asText(record[key]))),
  ]
}

const asText = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value
    : typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean'
      ? String(value)
      : undefined

/**
 * Every value in a host's parse of frontmatter (any depth) that is written as a directive, with its
 * path: a string starting `flux:`, or an object form (a plain object with a `flux` text and no
 * `src`: an object with a `src` is an image already).
 */
export function directiveFields(
  data: unknown,
  path: (string | number)[] = [],
): [unknown, (string | number)[]][] {
  if (isDirectiveField(data)) return [[data, path]]
  if (Array.isArray(data)) return data.flatMap((item, i) => directiveFields(item, [...path, i]))
  if (!isPlainObject(data)) return []
  return Object.entries(data).flatMap(([key, value]) => directiveFields(value, [...path, key]))
}

/** Whether a field's value is written as a directive (see `directiveFields`); it may still read as none. */
export function isDirectiveField(value: unknown): boolean {
  if (typeof value === 'string') return value.trimStart().startsWith(FLUX_SCHEME)
  return isPlainObject(value) && typeof value.flux === 'string' && !('src' in value)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
