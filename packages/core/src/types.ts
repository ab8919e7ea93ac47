/** The qualities a request may ask for. */
export const QUALITIES = ['standard', 'hd'] as const
export type Quality = (typeof QUALITIES)[number]

/** Where a directive was written. `line` and `column` are 1-based. */
export interface SourceLocation {
  file: string
  line: number
  column: number
}

/** Options a directive may carry in its `?key=value&...` part (all strings, as written). */
export interface DirectiveParams {
  model?: string
  size?: string
  quality?: string
  seed?: string
  alt?: string
  /** A preset's name (`presets`), or `none` for no preset. */
  preset?: string
  /**
   * Reference images sent with the prompt, relative to the directive's file
   * (`?ref=./sketch.png&ref=./palette.png`): one path, or several in order.
   */
  ref?: string | string[]
}

/** The parsed text of one `flux:` directive, without location. */
export interface ParsedDirective {
  /** Percent-decoded, trimmed. May be empty (e.g. `![alt](flux:)` before the alt is applied). */
  prompt: string
  params: DirectiveParams
  /**
   * Set (non-empty) when the prompt ends with what looks like a query whose option names are
   * not all known, e.g. `["sise"]` for `flux:a cat?sise=1024x1024`: that text was read as part
   * of the prompt, probably by mistake. For a warning (see `describeUnknownParams`).
   */
  unknownParams?: string[]
}

export type DirectiveKind = 'markdown' | 'frontmatter' | 'html' | 'import' | 'component'

/** A range [start, end) of offsets in a scanned text, in UTF-16 code units (as `slice` takes them). */
export interface Span {
  start: number
  end: number
}

/** One directive found in a source file. */
export interface Directive extends ParsedDirective {
  kind: DirectiveKind
  location: SourceLocation
  /** The text as written in the source (for messages). */
  raw: string
  /** Where `raw` is in the scanned text: `text.slice(span.start, span.end) === raw`. */
  span: Span
  /**
   * The markup that holds the directive, where there is one: the whole `<img ...>` tag (kind
   * `html`), the `<FluxImage ... />` tag (`component`), the image `![alt](...)` up to its `)`
   * (`markdown`).
   */
  element?: Span
  /** Kind `frontmatter`: the field that holds it, for a host to look it up by its own parse of the frontmatter. */
  field?: FrontmatterField
}

/** The frontmatter field a directive is written in. */
export interface FrontmatterField {
  /** The value's path in the frontmatter: `['heroImage']`, `['gallery', 2]`, `['og', 'image']`; the object form's is the object's. */
  path: (string | number)[]
  /** `string`: `"flux: prompt?opts"`; `object`: `{ flux, size, ... }`. */
  form: 'string' | 'object'
  /** The value as YAML reads it, in `writtenField`'s terms: what a host's own parse of the field is matched by. */
  written: string
}

/** A directive resolved against the options: every default filled in. Its hash is the cache key. */
export interface CanonicalRequest {
  model: string
  prompt: string
  size: string
  quality: Quality
  /** Only present when the directive sets one. */
  seed?: number
  /** The SHA-256 of each reference image sent (its preset's, then its own `ref`s); only present when there are some. */
  references?: string[]
  /** A candidate's number (1 and up: another image for the same directive); absent for the directive's own. */
  candidate?: number
  /**
   * `bfl` when Black Forest Labs' own API makes it (its fixed settings, PNG output and no prompt
   * rewriting, go with the name: changing them means a new name); absent for a gateway's.
   */
  provider?: 'bfl'
  /** BFL's `safety_tolerance` (0-6); only with `provider: 'bfl'`. */
  safetyTolerance?: number
}

/** Core never calls `console.*`: it is given one of these. */
export interface Logger {
  info(message: string): void
  warn(message: string): void
  error(message: string): void
  debug?(message: string): void
}

/** What a provider hands back for one request. */
export interface GeneratedImage {
  /** The image file bytes (PNG, JPEG or WebP), already decoded once to check them. */
  bytes: Buffer
  /** Sharp's format name: png, jpeg, webp. */
  format: string
  width: number
  height: number
  revisedPrompt?: string
  /** Unix seconds, from the gateway's `created`, or now. */
  created: number
  /** The seed the API says it used (BFL returns one), to make the same image again. */
  seed?: number
  /** What the API charged for it, in its credits (BFL: 1 credit = USD 0.01), as it reported. */
  credits?: number
  /** The API's id of the job that made it (BFL). */
  jobId?: string
}

export interface GenerateContext {
  signal?: AbortSignal
  /** Called before each retry, for progress and logs. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void
  /**
   * Called at most once, when the gateway's answer is all in hand and only local work remains
   * (decoding, checks): the engine frees the request's concurrency slot then, so the next
   * request starts while this image is checked. Providers that never call it hold the slot
   * until `generate` settles.
   */
  onReceived?: () => void
  /**
   * A job this request already submitted (its receipt, found on disk): the provider polls it and
   * never submits again. Only providers with jobs (BFL) read it.
   */
  receipt?: JobReceipt
  /**
   * Called once a submit is accepted and before its first poll; the provider waits for it (the
   * engine writes the receipt, so a crash from here on does not pay twice).
   */
  onSubmitted?: (receipt: JobReceipt) => Promise<void>
}

/** An accepted submit of an API that works in jobs (BFL): enough to poll it again. Holds no secret. */
export interface JobReceipt {
  /** The API's job id. */
  id: string
  /** Where its result is polled (`polling_url`). */
  pollingUrl: string
  /** The polling URL's host, checked against the API's hosts before the key is sent there. */
  host: string
  model: string
  /** What the submit said it charged, in the API's credits (BFL: 1 credit = USD 0.01). */
  credits?: number
  /** ISO time the submit was accepted. */
  submitted: string
}

/** A source of images: the real gateway, or the local placeholder generator. */
export interface Provider {
  readonly name: string
  /** True when images from this provider are placeholders, stored apart from real ones. */
  readonly placeholder: boolean
  /** How many style reference images one request may carry (a preset's `references`). @default 0 */
  readonly maxReferences?: number
  generate(request: CanonicalRequest, ctx?: GenerateContext): Promise<GeneratedImage>
  close?(): Promise<void>
}
