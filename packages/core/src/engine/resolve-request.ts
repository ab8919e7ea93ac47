import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { BFL_MODELS, BFL_SAFETY_TOLERANCE, bflSizeFields } from '../bfl-models.js'
import { fluxError } from '../errors.js'
import { NO_PRESET, PROMPT_SLOT, type ResolvedOptions, type ResolvedPreset } from '../options.js'
import { printable } from '../redact.js'
import type { CanonicalRequest, DirectiveParams, SourceLocation } from '../types.js'

/** What a request takes from the options when the directive does not say. */
export type RequestDefaults = Pick<
  ResolvedOptions,
  'model' | 'size' | 'quality' | 'models' | 'sizes' | 'presets' | 'preset'
> &
  Partial<Pick<ResolvedOptions, 'provider' | 'root' | 'referenceFiles'>>

/**
 * Longest prompt sent, in characters (code points): the OpenAI Images API's limit for dall-e-3
 * (4000), which the gateways that speak it accept; FLUX's text encoder reads ~500 tokens of it.
 */
export const MAX_PROMPT_CHARS = 4_000

/** Half of a UTF-16 pair without its other half: no UTF-8 encodes it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Controls no prompt needs (tab, newline and CR are kept: a prompt may span lines). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose.
const PROMPT_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/

/**
 * Turns a directive's prompt and params into the canonical request (every default filled in, its
 * preset applied: what is sent), or throws a FluxError located at the directive that says what is
 * wrong and how to fix it. A directive's own model, size and quality win over its preset's.
 */
export function resolveRequest(
  directive: { prompt: string; params: DirectiveParams; location?: SourceLocation },
  options: RequestDefaults,
): CanonicalRequest {
  const { params, location } = directive
  const written = directive.prompt.trim()
  if (!written) throw fluxError('FLUX_EMPTY_PROMPT', {}, { location })
  const preset = presetOf(params, options, location)
  const [before = '', after = ''] = preset ? preset.prompt.split(PROMPT_SLOT) : []
  // One prompt, one key: composed and decomposed forms of the same text must not be paid twice.
  const prompt = `${before}${written}${after}`.normalize('NFC').trim()
  checkPrompt(prompt, location)

  // Values echoed in an error reach a terminal: written out, never acted on.
  const model = params.model?.trim() || preset?.model || options.model
  if (!options.models.includes(model)) {
    const hint =
      options.provider === 'bfl'
        ? "Use one of BFL's models, by its endpoint name (`?model=flux-2-pro`); the README lists each with its sizes."
        : undefined
    throw fluxError(
      'FLUX_UNKNOWN_MODEL',
      { model: printable(model), accepted: options.models },
      { location, ...(hint && { hint }) },
    )
  }
  const own = ownReferences(params.ref, location, options)
  const references = [...(preset?.references ?? []), ...own].map((r) => r.sha256)
  const size = params.size?.trim().toLowerCase() || preset?.size || options.size
  const bfl = options.provider === 'bfl' ? BFL_MODELS.get(model) : undefined
  if (bfl) {
    const fields = bflSizeFields(bfl, size)
    if ('problem' in fields) {
      throw fluxError(
        'FLUX_SIZE_UNSUPPORTED',
        { size: printable(size), problem: fields.problem },
        { location },
      )
    }
    const count = references.length
    if (count > bfl.maxReferences) {
      throw fluxError(
        'FLUX_REFERENCES_UNSUPPORTED',
        { provider: `bfl (${model})`, count, own: own.length, max: bfl.maxReferences },
        { location },
      )
    }
  } else if (!options.sizes.includes(size)) {
    throw fluxError('FLUX_UNKNOWN_SIZE', { size: printable(size), accepted: options.sizes }, { location })
  }
  const quality = params.quality?.trim() || preset?.quality || options.quality
  if (quality !== 'standard' && quality !== 'hd') {
    throw fluxError(
      'FLUX_INVALID_OPTION_VALUE',
      { key: 'quality', value: printable(quality), expected: '"standard" or "hd"' },
      { location },
    )
  }
  const request: CanonicalRequest = { model, prompt, size, quality }
  // BFL's API makes other pictures than a gateway's of the same name, and its settings shape them.
  if (bfl) Object.assign(request, { provider: 'bfl', safetyTolerance: BFL_SAFETY_TOLERANCE })
  if (references.length) request.references = references
  const seedText = params.seed?.trim()
  if (seedText) {
    const seed = Number(seedText)
    if (!/^\d+$/.test(seedText) || !Number.isSafeInteger(seed)) {
      throw fluxError(
        'FLUX_INVALID_OPTION_VALUE',
        { key: 'seed', value: printable(seedText), expected: 'a whole number from 0 and up' },
        { location },
      )
    }
    request.seed = seed
  }
  return request
}

/**
 * A directive's own reference images (`?ref=`), each read now and named by its sha256 (its bytes
 * are in the key), the file recorded in `referenceFiles` for the provider. Paths are relative to
 * the directive's file (to the root without one); a file that cannot be read is an error there.
 */
function ownReferences(
  ref: DirectiveParams['ref'],
  location: SourceLocation | undefined,
  options: Partial<Pick<ResolvedOptions, 'root' | 'referenceFiles'>>,
): { file: string; sha256: string }[] {
  return [ref ?? []].flat().map((path) => {
    const written = path.trim()
    const file = resolve(options.root ?? '.', location ? dirname(location.file) : '.', written)
    let bytes: Buffer
    try {
      bytes = readFileSync(file)
    } catch (err) {
      const why = written ? ((err as NodeJS.ErrnoException).code ?? String(err)) : 'an empty path'
      const reason = `the reference image "${printable(written)}" (\`ref\`): ${why}`
      throw fluxError(
        'FLUX_READ_FAILED',
        { reason },
        { location, hint: "Write `ref` relative to the directive's own file (`?ref=./images/sketch.png`)." },
      )
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    options.referenceFiles?.set(sha256, file)
    return { file, sha256 }
  })
}

/** The preset a directive uses: its own `preset`, else the default; none for `none`. */
export function presetOf(
  params: DirectiveParams,
  options: Pick<RequestDefaults, 'presets' | 'preset'>,
  location?: SourceLocation,
): (ResolvedPreset & { name: string }) | undefined {
  const name = params.preset?.trim() || options.preset
  if (name === undefined || name === NO_PRESET) return undefined
  const preset = Object.hasOwn(options.presets, name) ? options.presets[name] : undefined
  if (!preset) {
    const accepted = Object.keys(options.presets)
    throw fluxError('FLUX_UNKNOWN_PRESET', { preset: printable(name), accepted }, { location })
  }
  return { ...preset, name }
}

/**
 * Refuses what a gateway would be sent as is and no author meant: control characters (NUL, ESC,
 * C1), the replacement character a decoder leaves for invalid UTF-8, lone surrogates (not
 * encodable as UTF-8), and prompts past MAX_PROMPT_CHARS.
 */
function checkPrompt(prompt: string, location: SourceLocation | undefined): void {
  const control = PROMPT_CONTROL.exec(prompt)
  if (control) {
    const code = (control[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')
    const reason = `contains the control character U+${code} at character ${[...prompt.slice(0, control.index)].length + 1}`
    throw fluxError('FLUX_INVALID_PROMPT', { reason }, { location })
  }
  const replacement = prompt.indexOf('\ufffd')
  if (replacement !== -1) {
    const at = [...prompt.slice(0, replacement)].length + 1
    const reason = `contains U+FFFD at character ${at}, what a decoder writes for bytes that are not UTF-8`
    throw fluxError('FLUX_INVALID_PROMPT', { reason }, { location })
  }
  if (LONE_SURROGATE.test(prompt)) {
    throw fluxError('FLUX_INVALID_PROMPT', { reason: 'contains a lone UTF-16 surrogate' }, { location })
  }
  // Counted only when the UTF-16 length could be over: a short prompt costs no array.
  if (prompt.length > MAX_PROMPT_CHARS) {
    let length = 0
    for (const _ of prompt) length++
    if (length > MAX_PROMPT_CHARS) {
      throw fluxError('FLUX_PROMPT_TOO_LONG', { length, max: MAX_PROMPT_CHARS }, { location })
    }
  }
}
