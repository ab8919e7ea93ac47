import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { dirname, relative, sep } from 'node:path'
import * as v from 'valibot'
import { writeFileAtomic } from '../cache/atomic-write.js'
import type { Flux } from '../create-flux.js'
import { scanSource } from '../directives/index.js'
import { priceOf } from '../engine/cost.js'
import { FluxError, formatLocation } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import type { SourceLocation } from '../types.js'
import type { ImageIndex, WrittenImage } from './image-index.js'

/** Candidates one re-roll may ask for: a few to compare, not a bill. */
export const MAX_REROLL = 8

/** One image of a page, as the studio shows it. */
export interface StudioImage {
  key: string
  /** Where it is written (the first place; `locations` has every one). */
  location: SourceLocation
  locations: SourceLocation[]
  /** `<absolute file>:<line>:<column>`, for an editor (Vite's `/__open-in-editor?file=`). */
  editor: string
  /** As written in the file, and as sent (a preset's template applied). */
  prompt: string
  sent: string
  model: string
  size: string
  quality: string
  status: string
  /** Estimated price of one more generation of it, in USD. */
  price: number
  /** Estimated USD spent on it so far: its own image and its candidates. */
  cost: number
  candidates: Array<{ number: number; key: string; width: number; height: number; shown: boolean }>
  /** The page's URLs that show it (of those given). */
  urls: string[]
}

/** The images the dev server waits for the author's go to generate (more missing than `devThreshold`). */
export interface HeldImages {
  count: number
  cost: number
  items: Array<{ location: SourceLocation | undefined; prompt: string }>
}

export interface StudioState {
  /** Generations this dev session may spend before each action asks again (`devBudget`). */
  budget: number
  /** Generations this dev session has paid for so far. */
  spent: number
  /** The dev server listens beyond this machine without `allowNetworkDev`: nothing spends. */
  paused: boolean
  held: HeldImages | undefined
}

/** What the studio's page asks for. Every one but `state` may spend or write: hosts take them only over their HMR channel. */
const Key = v.pipe(v.string(), v.regex(/^[0-9a-f]{24}$/))
const Count = v.pipe(v.number(), v.integer(), v.minValue(0))
const StudioActionSchema = v.variant('type', [
  v.object({ type: v.literal('state') }),
  v.object({ type: v.literal('reroll'), key: Key, count: Count, confirm: v.optional(v.boolean()) }),
  v.object({ type: v.literal('pick'), key: Key, candidate: Count }),
  v.object({
    type: v.literal('edit'),
    key: Key,
    file: v.string(),
    line: Count,
    prompt: v.pipe(v.string(), v.maxLength(4000)),
  }),
  v.object({ type: v.literal('generate'), confirm: v.optional(v.boolean()) }),
])
export type StudioAction = v.InferOutput<typeof StudioActionSchema>

export type StudioReply =
  | { ok: true; state: StudioState; message: string }
  /** Past the budget: the action is sent again with `confirm: true` once the person agrees. */
  | { ok: false; state: StudioState; confirm: string }
  | { ok: false; state: StudioState; error: string }

export interface StudioCollaborators {
  flux: Flux
  options: Pick<ResolvedOptions, 'root' | 'prices' | 'devBudget'>
  written: ImageIndex
  /** The image key that a URL the session handed out shows, if any. */
  keyOfUrl: (url: string) => string | undefined
  /** Generations paid for in this session so far. */
  spent: () => number
  paused: boolean
  held: () => HeldImages | undefined
  /** Generates the held images; resolves to how many were generated. */
  generateHeld: () => Promise<number>
  /** The sources (absolute paths) that show images whose pixels changed: re-render them and reload. */
  refresh: (files: string[]) => void
}

export interface Studio {
  /**
   * The secret of this session's studio page: its actions carry it. Only the page (served to this
   * server's own pages, never cross-site) knows it, so another page that reaches the HMR channel
   * still cannot act.
   */
  readonly token: string
  state(): StudioState
  /** The images a page shows, from the URLs of its `<img>` elements, in their order; images no project file writes are left out. */
  images(urls: readonly string[]): Promise<StudioImage[]>
  /** The original file of an image or candidate that `images` listed, or undefined. */
  original(key: string): string | undefined
  act(action: StudioAction): Promise<StudioReply>
  /** An action as the page sent it (`{ token, action }`): checked, then done; anything else is refused. */
  receive(message: unknown): Promise<StudioReply>
}

/**
 * The author's studio, host-agnostic: lists a page's images from the session's index, and does
 * its actions (re-roll, pick, go back, edit a prompt in place, generate what waits). A budget per
 * session: an action that would pass it asks again first.
 */
export function createStudio(c: StudioCollaborators): Studio {
  const originals = new Map<string, string>()
  const token = randomBytes(24).toString('hex')
  const state = (): StudioState => ({
    budget: c.options.devBudget,
    spent: c.spent(),
    paused: c.paused,
    held: c.held(),
  })
  const fail = (error: string): StudioReply => ({ ok: false, state: state(), error })
  const done = (message: string): StudioReply => ({ ok: true, state: state(), message })
  const where = (image: WrittenImage) => formatLocation(image.written[0]?.directive.location ?? unknownPlace)

  /** Whether `count` more generations stay within the budget, or the question to ask. */
  const overBudget = (count: number, confirm: boolean | undefined): StudioReply | undefined => {
    const spent = c.spent()
    if (confirm || spent + count <= c.options.devBudget) return undefined
    return {
      ok: false,
      state: state(),
      confirm: `This dev session has paid for ${spent} of its ${c.options.devBudget} generations (devBudget); ${count} more would pass it. Go on?`,
    }
  }

  async function describe(key: string, image: WrittenImage): Promise<Omit<StudioImage, 'urls'>> {
    const { request } = image
    const first = image.written[0] as WrittenImage['written'][number]
    const candidates = await c.flux.candidates({ request }).list()
    for (const candidate of candidates) originals.set(candidate.key, candidate.path)
    const price = priceOf(request, c.options.prices)
    const status = await c.flux.status({ request })
    return {
      key,
      location: first.directive.location,
      locations: image.written.map((w) => w.directive.location),
      editor: `${first.path}:${first.directive.location.line}:${first.directive.location.column}`,
      prompt: first.directive.prompt,
      sent: request.prompt,
      model: request.model,
      size: request.size,
      quality: request.quality,
      status,
      price,
      cost: price * candidates.length,
      candidates: candidates.map(({ path: _path, ...candidate }) => candidate),
    }
  }

  async function edit(
    image: WrittenImage,
    action: Extract<StudioAction, { type: 'edit' }>,
  ): Promise<StudioReply> {
    const target = image.written.find(
      (w) => w.directive.location.file === action.file && w.directive.location.line === action.line,
    )
    if (!target)
      return fail(
        `${action.file}:${action.line}: no directive of this image is written there any more. Reload the studio.`,
      )
    const { path, directive } = target
    const place = formatLocation(directive.location)
    const prompt = action.prompt.trim()
    if (prompt === '' || /[\r\n]/.test(prompt))
      return fail(`${place}: a prompt is one line of text, not empty. Write it again.`)
    const text = await readFile(path, 'utf8')
    const { start, end } = directive.span
    if (text.slice(start, end) !== directive.raw)
      return fail(`${place}: the file changed since it was read. Reload the studio and edit again.`)
    const at = directive.raw.indexOf(directive.prompt)
    if (at < 0)
      return fail(
        `${place}: the prompt is written escaped there, so the studio leaves it alone. Open it in the editor.`,
      )
    const raw = directive.raw.slice(0, at) + prompt + directive.raw.slice(at + directive.prompt.length)
    const next = text.slice(0, start) + raw + text.slice(end)
    // What the file says once written must be this directive with the new prompt and its own options.
    const name = relative(c.options.root, path).split(sep).join('/')
    const again = scanSource(name, next).directives.find((d) => d.span.start === start)
    if (again?.prompt !== prompt || JSON.stringify(again.params) !== JSON.stringify(directive.params))
      return fail(
        `${place}: ${JSON.stringify(prompt)} would not read back as this directive's prompt there (it holds characters that end it in this file). Open it in the editor.`,
      )
    // Whole or not at all: the dev server's watcher, and the editor, never read a half-written file.
    await writeFileAtomic(path, next, dirname(path))
    return done(`${place}: prompt rewritten; the page follows like any edit.`)
  }

  const act: Studio['act'] = async (action) => {
    if (action.type === 'state') return done('')
    if (action.type === 'generate') {
      const held = c.held()
      if (!held) return done('Nothing waits to be generated.')
      if (c.paused) return fail(pausedText)
      const asked = overBudget(held.count, action.confirm)
      if (asked) return asked
      const count = await c.generateHeld()
      return done(`${count} image(s) generated.`)
    }
    const image = await c.written.lookup(action.key)
    if (!image) return fail(`No project file writes the image ${action.key} any more. Reload the studio.`)
    try {
      switch (action.type) {
        case 'reroll': {
          if (c.paused) return fail(`${where(image)}: ${pausedText}`)
          const count = action.count
          if (count < 1 || count > MAX_REROLL)
            return fail(
              `${where(image)}: a re-roll makes 1 to ${MAX_REROLL} candidates, not ${count}. Choose another number.`,
            )
          const asked = overBudget(count, action.confirm)
          if (asked) return asked
          const made = await c.flux.candidates({ request: image.request }).make(count)
          return done(
            `${where(image)}: ${made.length} candidate(s) made (${made.map((m) => m.number).join(', ')}).`,
          )
        }
        case 'pick': {
          await c.flux.candidates({ request: image.request }).pick(action.candidate)
          c.refresh([...new Set(image.written.map((w) => w.path))])
          return done(
            action.candidate === 0
              ? `${where(image)}: back to its own image.`
              : `${where(image)}: candidate ${action.candidate} picked (the pick record is committed with the cache).`,
          )
        }
        case 'edit':
          return await edit(image, action)
      }
    } catch (err) {
      const message = FluxError.is(err) ? err.toString() : String(err)
      return fail(`${where(image)}: ${message}`)
    }
  }

  return {
    token,
    state,
    act,
    async receive(message) {
      const sent = v.safeParse(v.object({ token: v.string(), action: v.unknown() }), message)
      const given = Buffer.from(sent.success ? sent.output.token : '')
      if (!sent.success || given.length !== token.length || !timingSafeEqual(given, Buffer.from(token)))
        return fail(
          "Refused: this action did not come from this dev server's studio page. Open the studio from the page (its button) and act there.",
        )
      const action = v.safeParse(StudioActionSchema, sent.output.action)
      if (!action.success)
        return fail(`Refused: not a studio action (${action.issues[0].message}). Reload the studio.`)
      try {
        return await act(action.output)
      } catch (err) {
        return fail(FluxError.is(err) ? err.toString() : String(err))
      }
    },
    original: (key) => originals.get(key),
    async images(urls) {
      const byKey = new Map<string, string[]>()
      for (const url of urls) {
        const key = c.keyOfUrl(url)
        if (key) byKey.set(key, [...(byKey.get(key) ?? []), url])
      }
      const found = await Promise.all(
        [...byKey].map(async ([key, shown]) => {
          const image = await c.written.lookup(key)
          return image && { ...(await describe(key, image)), urls: shown }
        }),
      )
      return found.filter((f): f is StudioImage => f !== undefined)
    },
  }
}

const unknownPlace: SourceLocation = { file: '(unknown file)', line: 1, column: 1 }
const pausedText =
  'the dev server listens beyond this machine, so it spends nothing. Set allowNetworkDev: true to let it, or run it on this machine only.'
