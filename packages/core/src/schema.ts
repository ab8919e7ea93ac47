/**
 * The options' validators: small checks composed into one schema per options object (`options.ts`,
 * `optimize/resolve-optimize-options.ts`). Each check reads one value at a path and either returns
 * it (normalised) or pushes one problem, `<path>: Expected ..., got ...`, and returns undefined, so
 * a whole object is read in one pass and every problem is listed at once.
 *
 * Hand-written rather than valibot or zod: core is compiled, not bundled, so a schema library
 * would load whole at every CLI start, for about as many lines as these checks take.
 */
export type Check<T> = (value: unknown, path: string, problems: string[]) => T | undefined

/** A value as a message shows it: JSON, cut to 60 characters. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'bigint') return `${value}n`
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
 * A whole number in `[min, max]`. A string (a CLI flag, an environment variable) is read only when
 * it is plain decimal digits: `Number()` would also take `0x10`, `1e3` and `" 4 "`.
 */
export function integer(min: number, max: number): Check<number> {
  return (value, path, problems) => {
    const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value
    if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return n
    problems.push(`${path}: Expected a whole number from ${min} to ${max}, got ${show(value)}`)
    return undefined
  }
}

/** One of the given strings; `extend` says how to add another (`add it with \`models\``). */
export function oneOf<T extends string>(accepted: readonly T[], extend?: string): Check<T> {
  return (value, path, problems) => {
    if (typeof value === 'string' && (accepted as readonly string[]).includes(value)) return value as T
    problems.push(
      `${path}: Expected one of ${accepted.map((a) => `"${a}"`).join(', ')}, got ${show(value)}${extend ? ` (${extend})` : ''}`,
    )
    return undefined
  }
}

/** `true` or `false` only: a string such as `"false"` is truthy and would turn a guard off. */
export function boolean(): Check<boolean> {
  return (value, path, problems) => {
    if (typeof value === 'boolean') return value
    problems.push(
      `${path}: Expected true or false, got ${show(value)}${typeof value === 'string' ? ' (a string, not a boolean)' : ''}`,
    )
    return undefined
  }
}

/** A non-empty string; `secret` keeps the value out of the message. */
export function text({ secret = false }: { secret?: boolean } = {}): Check<string> {
  return (value, path, problems) => {
    if (typeof value === 'string' && value.length > 0) return value
    problems.push(
      `${path}: Expected a non-empty string, got ${secret && typeof value === 'string' ? 'an empty string' : secret ? `a ${typeof value}` : show(value)}`,
    )
    return undefined
  }
}

/** A list whose every item passes `item` (paths `name[0]`, `name[1]`, ...). */
export function list<T>(item: Check<T>, what = 'a list'): Check<T[]> {
  return (value, path, problems) => {
    if (!Array.isArray(value)) {
      // A lone string is the common slip (`include: "**/*.md"`): iterating it would read each character.
      const write = typeof value === 'string' ? ` (write [${show(value)}])` : ''
      problems.push(`${path}: Expected ${what}, got ${show(value)}${write}`)
      return undefined
    }
    const before = problems.length
    const items = value.map((v, i) => item(v, `${path}[${i}]`, problems))
    return problems.length === before ? (items as T[]) : undefined
  }
}

/** An object of `name -> value` whose every value passes `item` (paths `name.key`). */
export function record<T>(item: Check<T>): Check<Record<string, T>> {
  return (value, path, problems) => {
    if (!isRecord(value)) {
      problems.push(`${path}: Expected an object, got ${show(value)}`)
      return undefined
    }
    const before = problems.length
    const out: Record<string, T> = {}
    for (const [key, v] of Object.entries(value)) out[key] = item(v, `${path}.${key}`, problems) as T
    return problems.length === before ? out : undefined
  }
}

/** Lists each key of `value` that is not in `known`, with the nearest known name when one is close. */
export function unknownKeys(
  value: Record<string, unknown>,
  known: readonly string[],
  at: (key: string) => string,
  problems: string[],
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const near = nearest(key, known)
    problems.push(
      `${at(key)}: Unknown option${near ? `; did you mean "${near}"?` : ` (accepted: ${known.join(', ')})`}`,
    )
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The known name within 2 edits of `name` (case aside), if any. */
function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
