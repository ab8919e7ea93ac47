import * as v from 'valibot'
import { fluxError } from './errors.js'
import { nearest } from './nearest-name.js'
import type { Logger } from './types.js'

/**
 * The options' vocabulary, on valibot: each schema here carries its message (`Expected ..., got
 * ...`), every options object (`options.ts`, `optimize/resolve-optimize-options.ts`) is composed of
 * them, and `parseOptions` is the one place options are validated: every problem listed at once,
 * each with its path (`image.widths[2]: Expected ...`), every unknown name with the nearest known one.
 */

type Message = (issue: v.BaseIssue<unknown>) => string

/** `Expected <what>, got <the value>`, and what `after` adds for that value. */
function expected(what: string, after?: (input: unknown) => string): Message {
  return (issue) => `Expected ${what}, got ${show(issue.input)}${after?.(issue.input) ?? ''}`
}

/** A value as a message shows it: JSON, cut to 60 characters. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'bigint') return `${value}n`
  // JSON would show NaN and Infinity as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    text = undefined
  }
  if (text === undefined) return typeof value
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/**
 * A whole number in `[min, max]` (no `max`: from `min` and up). A string (a CLI flag, an
 * environment variable) is read only when it is plain decimal digits: `Number()` would also take
 * `0x10`, `1e3` and `" 4 "`. Typed as a number: that is what users write.
 */
export function wholeNumber(min: number, max?: number) {
  const range = max === undefined ? `from ${min} and up` : `from ${min} to ${max}`
  const read = (value: unknown) =>
    typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value
  return v.pipe(
    v.custom<number>(
      (value) => {
        const n = read(value)
        return (
          typeof n === 'number' && Number.isInteger(n) && n >= min && n <= (max ?? Number.MAX_SAFE_INTEGER)
        )
      },
      expected(`a whole number ${range}`),
    ),
    v.transform((value) => Number(value)),
  )
}

/** A finite number above 0 (a duration). */
export function positiveNumber() {
  return v.custom<number>(
    (value) => typeof value === 'number' && Number.isFinite(value) && value > 0,
    expected('a number above 0'),
  )
}

/** One of the given strings. */
export function oneOf<const T extends string>(accepted: readonly T[]) {
  return v.picklist(accepted, expected(`one of ${quoteAll(accepted)}`))
}

export function quoteAll(values: readonly string[]): string {
  return values.map((a) => `"${a}"`).join(', ')
}

/** `true` or `false` only: a string such as `"false"` is truthy and would turn a guard off. */
export function boolean() {
  return v.boolean(
    expected('true or false', (input) => (typeof input === 'string' ? ' (a string, not a boolean)' : '')),
  )
}

/** A non-empty string; `secret` keeps the value out of the message. */
export function text({ secret = false }: { secret?: boolean } = {}) {
  const message: Message = secret
    ? (issue) =>
        `Expected a non-empty string, got ${typeof issue.input === 'string' ? 'an empty string' : `a ${typeof issue.input}`}`
    : expected('a non-empty string')
  return v.pipe(v.string(message), v.minLength(1, message))
}

/** A list whose every item passes `item` (paths `name[0]`, `name[1]`, ...). */
export function list<const T extends v.GenericSchema>(item: T, what = 'a list') {
  // A lone string is the common slip (`include: "**/*.md"`): iterating it would read each character.
  return v.array(
    item,
    expected(what, (input) => (typeof input === 'string' ? ` (write [${show(input)}])` : '')),
  )
}

/** An object of `name -> value` whose every value passes `item` (paths `name.key`). */
export function record<const T extends v.GenericSchema>(item: T) {
  return v.record(v.string(), item, expected('an object'))
}

/** A value that passes `is`, shown as `what` in the message. */
export function custom<T>(is: (value: unknown) => boolean, what: string) {
  return v.custom<T>(is, expected(what))
}

/**
 * An options object: each entry checked, and every name that is not one of them reported with the
 * nearest known name (valibot's strictObject stops at the first unknown name). Unknown names are
 * only ever reported, never passed on, so its shape is a strict object's.
 */
export function optionsObject<const E extends v.ObjectEntries>(entries: E): v.ObjectSchema<E, undefined> {
  const known = Object.keys(entries)
  const schema = v.pipe(
    v.looseObject(entries, expected('an object')),
    v.rawCheck(({ dataset, addIssue }) => {
      const value = dataset.value
      if (!isRecord(value)) return
      for (const key of Object.keys(value)) {
        if (known.includes(key)) continue
        const near = nearest(key, known)
        addIssue({
          message: `Unknown option${near ? `; did you mean "${near}"?` : ` (accepted: ${known.join(', ')})`}`,
          path: [{ type: 'object', origin: 'key', input: value, key, value: value[key] }],
        })
      }
    }),
  )
  return schema as unknown as v.ObjectSchema<E, undefined>
}

/** One problem of a value against its schema. */
export interface Problem {
  /** Where, from the root: `image.widths[2]`, `prices.flux-pro`; the root's name when it is the root itself. */
  path: string
  /** The keys along the path (`['image', 'widths', 2]`), to tell which layer a value came from. */
  keys: readonly (string | number)[]
  /** `Expected ..., got ...`, or `Unknown option; did you mean ...`. */
  message: string
  /** A name that is not an option, rather than a wrong value. */
  unknownName: boolean
}

/** The issues of a failed parse as problems, paths prefixed with `root` (e.g. `image`). */
function problemsOf(issues: readonly v.BaseIssue<unknown>[], root = ''): Problem[] {
  return issues.map((issue) => {
    const items = issue.path ?? []
    const keys = items.map((item) => item.key as string | number)
    let path = root
    for (const item of items) {
      path += item.type === 'array' ? `[${String(item.key)}]` : `${path ? '.' : ''}${String(item.key)}`
    }
    return {
      path: path || 'options',
      keys,
      message: issue.message,
      unknownName: items.at(-1)?.origin === 'key',
    }
  })
}

/**
 * The one way options are validated: `input` against `schema`, with its defaults filled in. Throws
 * FLUX_INVALID_OPTIONS listing every problem on its own line, its path prefixed with `path`, and,
 * when `from` names where the value at a path came from, that too: `concurrency: ... (from
 * FLUX_CONCURRENCY)`, `maxGeneration (in flux.config.mjs): Unknown option ...`.
 */
export function parseOptions<const S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  { path = '', from }: { path?: string; from?: (keys: Problem['keys']) => string | undefined } = {},
): v.InferOutput<S> {
  const result = v.safeParse(schema, input)
  if (result.success) return result.output
  const problems = problemsOf(result.issues, path).map((p) => {
    const source = from?.(p.keys)
    if (!source) return `${p.path}: ${p.message}`
    return p.unknownName
      ? `${p.path} (in ${source}): ${p.message}`
      : `${p.path}: ${p.message} (from ${source})`
  })
  throw fluxError('FLUX_INVALID_OPTIONS', { problems })
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A logger: an object with `info`, `warn` and `error` functions. */
export const logger = custom<Logger>(
  (value) => isRecord(value) && ['info', 'warn', 'error'].every((m) => typeof value[m] === 'function'),
  'a logger with info, warn and error functions',
)
