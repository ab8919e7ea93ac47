/**
 * Black Forest Labs' models as its API serves them: one row per endpoint (`POST /v1/<name>`),
 * read by option validation, request resolution (sizes, references) and the provider (fields).
 */

/** How a model takes its output size. */
export type BflSizeRule =
  /** `width`/`height`, each a multiple of `step` from `min`, at most `maxPixels` in all. */
  | { kind: 'pixels'; step: number; min: number; maxPixels: number; maxSide?: number }
  /** `aspect_ratio` (`16:9`) between 21:9 and 9:21; the model picks the pixel count. */
  | { kind: 'aspect'; widest: number }

/** How a model rewrites prompts unless told not to: the field that turns it off. */
export type BflUpsampling = 'disable_pup' | 'prompt_upsampling'

export interface BflModel {
  /** The endpoint, `/v1/<name>`, and the name a directive's `model` uses. */
  name: string
  family: 'FLUX.2' | 'FLUX.1' | 'Kontext'
  size: BflSizeRule
  /** How many reference images (`input_image`, `input_image_2`...) one request may carry. */
  maxReferences: number
  /** Jobs of this model BFL runs at once per account, when lower than the account's 24 (Kontext max: 6). */
  maxInFlight?: number
  /** True when the same `seed` gives the same image again. */
  seeds: boolean
  /** The field that keeps the prompt as written (always sent: a rewritten prompt is not keyed). */
  upsampling: BflUpsampling
  /**
   * List price in USD, per image or per megapixel (an input image's megapixels count as further
   * ones); estimates read it where `prices` names none for the model. Absent where no price is
   * published in our sources.
   */
  price?: { perImage: number } | { firstMegapixel: number; perExtraMegapixel: number }
}

/** FLUX.2: multiples of 16, at least 64, up to 4 megapixels. */
const FLUX2_SIZE: BflSizeRule = { kind: 'pixels', step: 16, min: 64, maxPixels: 4 * 1024 * 1024 }
/** FLUX.1 [pro] 1.1, [pro] and [dev]: each side 256-1440, multiples of 32. */
const FLUX1_SIZE: BflSizeRule = { kind: 'pixels', step: 32, min: 256, maxSide: 1440, maxPixels: 1440 * 1440 }
const ASPECT: BflSizeRule = { kind: 'aspect', widest: 21 / 9 }

const row = (name: string, rest: Omit<BflModel, 'name'>): [string, BflModel] => [name, { name, ...rest }]

/** Every model the `bfl` provider speaks to, by endpoint name. */
export const BFL_MODELS: ReadonlyMap<string, BflModel> = new Map([
  row('flux-2-pro', {
    family: 'FLUX.2',
    size: FLUX2_SIZE,
    maxReferences: 8,
    seeds: true,
    upsampling: 'disable_pup',
    price: { firstMegapixel: 0.03, perExtraMegapixel: 0.015 },
  }),
  row('flux-2-max', {
    family: 'FLUX.2',
    size: FLUX2_SIZE,
    maxReferences: 8,
    seeds: true,
    upsampling: 'disable_pup',
    price: { firstMegapixel: 0.07, perExtraMegapixel: 0.03 },
  }),
  row('flux-2-flex', {
    family: 'FLUX.2',
    size: FLUX2_SIZE,
    maxReferences: 8,
    seeds: true,
    upsampling: 'prompt_upsampling',
    price: { firstMegapixel: 0.05, perExtraMegapixel: 0.05 },
  }),
  row('flux-2-klein-4b', {
    family: 'FLUX.2',
    size: FLUX2_SIZE,
    maxReferences: 4,
    seeds: true,
    upsampling: 'prompt_upsampling',
    price: { firstMegapixel: 0.014, perExtraMegapixel: 0.001 },
  }),
  row('flux-2-klein-9b', {
    family: 'FLUX.2',
    size: FLUX2_SIZE,
    maxReferences: 4,
    seeds: true,
    upsampling: 'prompt_upsampling',
    price: { firstMegapixel: 0.015, perExtraMegapixel: 0.002 },
  }),
  row('flux-pro-1.1', {
    family: 'FLUX.1',
    size: FLUX1_SIZE,
    maxReferences: 0,
    seeds: true,
    upsampling: 'prompt_upsampling',
    price: { perImage: 0.04 },
  }),
  row('flux-pro-1.1-ultra', {
    family: 'FLUX.1',
    size: ASPECT,
    maxReferences: 0,
    seeds: true,
    upsampling: 'prompt_upsampling',
    price: { perImage: 0.06 },
  }),
  row('flux-pro', {
    family: 'FLUX.1',
    size: FLUX1_SIZE,
    maxReferences: 0,
    seeds: true,
    upsampling: 'prompt_upsampling',
    price: { perImage: 0.05 },
  }),
  row('flux-dev', {
    family: 'FLUX.1',
    size: FLUX1_SIZE,
    maxReferences: 0,
    seeds: true,
    upsampling: 'prompt_upsampling',
    price: { perImage: 0.025 },
  }),
  // Kontext edits: input_image is the picture to edit; input_image_2.. are further references.
  row('flux-kontext-pro', {
    family: 'Kontext',
    size: ASPECT,
    maxReferences: 4,
    seeds: true,
    upsampling: 'prompt_upsampling',
    price: { perImage: 0.04 },
  }),
  row('flux-kontext-max', {
    family: 'Kontext',
    size: ASPECT,
    maxReferences: 4,
    maxInFlight: 6,
    seeds: true,
    upsampling: 'prompt_upsampling',
    price: { perImage: 0.08 },
  }),
])

/** Tasks BFL runs at once per account, a polled one counting: the provider's bound by default. */
export const BFL_MAX_IN_FLIGHT = 24

/** What one BFL credit costs: the submit's `cost` is in credits. */
export const BFL_CREDIT_USD = 0.01

/** An image's real cost in USD from the credits its submit reported (its metadata's `credits`), to the cent's hundredth. */
export function creditsToUsd(credits: number): number {
  return Math.round(credits * BFL_CREDIT_USD * 10_000) / 10_000
}

/** The endpoint names, in table order. */
export const BFL_MODEL_NAMES: readonly string[] = [...BFL_MODELS.keys()]

/**
 * `safety_tolerance` sent with every request (0 strictest to 6): BFL's default, and the most it
 * allows with input images. Part of the key: another tolerance may refuse or make another picture.
 */
export const BFL_SAFETY_TOLERANCE = 2

/** The model of the `bfl` provider when neither the options nor the directive name one. */
export const BFL_DEFAULT_MODEL = 'flux-2-pro'

/** What one size asks of the API: `width`/`height`, or `aspect_ratio`. */
export type BflSizeFields = { width: number; height: number } | { aspect_ratio: string }

/**
 * The fields a `WxH` size is sent as to `model`, or why the model cannot make it (a phrase that
 * states the model's rule, for an error message).
 */
export function bflSizeFields(model: BflModel, size: string): BflSizeFields | { problem: string } {
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(size)
  if (!match) return { problem: 'a size is written WIDTHxHEIGHT (e.g. 1024x768)' }
  const width = Number(match[1])
  const height = Number(match[2])
  const rule = model.size
  if (rule.kind === 'aspect') {
    const ratio = width / height
    if (width === 0 || height === 0 || ratio > rule.widest || ratio < 1 / rule.widest) {
      return { problem: `${model.name} takes an aspect ratio between 21:9 and 9:21 (it picks the pixels)` }
    }
    const d = gcd(width, height)
    return { aspect_ratio: `${width / d}:${height / d}` }
  }
  const sides = rule.maxSide ? `${rule.min}-${rule.maxSide}` : `at least ${rule.min}`
  const stated = `${model.name} takes sides of ${sides} pixels in multiples of ${rule.step}, at most ${megapixels(rule.maxPixels)} MP in all`
  const sideOk = (n: number) => n >= rule.min && n % rule.step === 0 && (!rule.maxSide || n <= rule.maxSide)
  if (!sideOk(width) || !sideOk(height) || width * height > rule.maxPixels) return { problem: stated }
  return { width, height }
}

function megapixels(pixels: number): string {
  return String(Math.round((pixels / (1024 * 1024)) * 100) / 100)
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}
