import { realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { unified } from '@astrojs/markdown-remark'
import {
  type DirectiveParams,
  FluxError,
  type ImageInput,
  type ImageResult,
  parseDirective,
  scanMarkdown,
} from '@flux-images/core'
import type { AstroConfig, AstroIntegrationLogger } from 'astro'
import type { FluxState } from '../../packages/astro/src/flux-state.js'
import { registerMarkdown } from '../../packages/astro/src/markdown-processor.js'
import { requestKey } from '../../packages/core/src/cache/index.js'
import { scanHtml } from '../../packages/core/src/directives/index.js'
import { resolveRequest } from '../../packages/core/src/engine/index.js'
import { DEFAULT_MODELS, DEFAULT_SIZES } from '../../packages/core/src/options.js'

/**
 * Astro's markdown processors run directly (no site build), as Astro runs them: the processor
 * objects of `@astrojs/markdown-satteri` (Astro 7's default) and `@astrojs/markdown-remark`
 * (unified), each for `.md` (`createRenderer`) and `.mdx` (`createMdxRenderer`, what @astrojs/mdx
 * calls), with the integration's own plugins pushed into their option arrays as its
 * `registerMarkdown` does, over a fake engine that records each request instead of paying it.
 */
export interface Pipeline {
  name: string
  mdx: boolean
  /** The requests the page would make, or undefined when the processor rejects the source. */
  run(source: string): Promise<string[] | undefined>
  /** What the last run asked the session for, in the order asked. */
  inputs(): ImageInput[]
  /** What the last run rendered (HTML for `.md`, compiled code for MDX). */
  output(): string
}

export interface PipelineOptions {
  /** Every image fails with this error (made anew for each), as a refused prompt would. */
  failure?: () => Error
}

const DEFAULTS = {
  model: 'flux-1.1-pro',
  size: '1024x1024',
  quality: 'standard',
  models: DEFAULT_MODELS,
  sizes: DEFAULT_SIZES,
  presets: {},
} as const

const straight = (text: string) => text.replace(/[“”]/g, '"').replace(/[‘’]/g, "'")

/** A request as the cache sees it (its key's fields), or the error a build would report. */
export function requestOf(input: { prompt: string; params: DirectiveParams }): string {
  try {
    const request = resolveRequest(input, {
      ...DEFAULTS,
      models: [...DEFAULTS.models],
      sizes: [...DEFAULTS.sizes],
    })
    return `${requestKey(request)} ${JSON.stringify(request)}`
  } catch (err) {
    // An error by its code and prompt. Where the prompt is empty the alt stands in, and Sätteri's
    // typographer may have curled its quotes: the same failing directive (the build stops at the
    // scan's own error either way), so quotes are compared straightened.
    if (FluxError.is(err)) return `error ${err.code} ${JSON.stringify(straight(input.prompt))}`
    throw err
  }
}

/** What the pre-build scan would generate for a body (core's scanner, then the request). */
export function scanRequests(source: string, mdx: boolean): string[] {
  return scanMarkdown(source, mdx ? 'page.mdx' : 'page.md', 1, { mdx })
    .directives.map(requestOf)
    .sort()
}

const FILE = fileURLToPath(new URL('../fixtures/page.md', import.meta.url))

// Not a direct dependency of the tests: Astro's and @astrojs/mdx's, next to it in pnpm's store.
async function loadSatteri(): Promise<{ satteri: () => AstroProcessor }> {
  const mdx = realpathSync(fileURLToPath(new URL('../node_modules/@astrojs/mdx', import.meta.url)))
  return import(pathToFileURL(join(dirname(mdx), 'markdown-satteri/dist/index.js')).href)
}

interface AstroProcessor {
  name: string
  options: Record<string, unknown[]>
  createRenderer(
    shared: object,
  ): Promise<{ render(content: string, opts?: object): Promise<{ code: string }> }>
  createMdxRenderer(
    shared: object,
    mdx: object,
  ): Promise<{ process(content: string, file: string, frontmatter: object): Promise<{ code: string }> }>
}

// Astro's markdown defaults, without syntax highlighting (code holds no images either way).
const SHARED = { syntaxHighlight: false, gfm: true, smartypants: true }

export async function createPipelines({ failure }: PipelineOptions = {}): Promise<Pipeline[]> {
  const { satteri } = await loadSatteri()
  let seen: string[] = []
  let inputs: ImageInput[] = []
  let output = ''
  // What the markdown plugins use of the session: the root and `image` (no index: a real build's
  // is read by test/astro-walks.test.ts, so the plugins work each image out from the source here).
  const state = {
    options: { root: dirname(FILE) },
    files: new Map(),
    directivesIn: async () => undefined,
    async image(input: ImageInput) {
      inputs.push(input)
      if (failure) throw failure()
      const { prompt, params } = input as { prompt: string; params: DirectiveParams }
      const request = requestOf({ prompt, params })
      seen.push(request)
      return fakeImage(prompt, params.alt ?? '', request.slice(0, 16))
    },
  } as unknown as FluxState
  const pipelines: Pipeline[] = []
  for (const make of [satteri, unified as unknown as () => AstroProcessor]) {
    const processor = make()
    const config = { markdown: { processor } } as unknown as AstroConfig
    registerMarkdown(config, () => state, {} as AstroIntegrationLogger)
    const md = await processor.createRenderer(SHARED)
    const mdx = await processor.createMdxRenderer(SHARED, {
      optimize: false,
      srcDir: pathToFileURL(dirname(FILE)),
    })
    const run = async (source: string, format: 'md' | 'mdx') => {
      seen = []
      inputs = []
      output = ''
      let code: string
      try {
        code =
          format === 'md'
            ? (await md.render(source, { fileURL: pathToFileURL(FILE) })).code
            : (await mdx.process(source, FILE.replace(/\.md$/, '.mdx'), {})).code
      } catch (err) {
        // A source the processor refuses fails the build: nothing is paid behind its back.
        if (format === 'mdx' && !failure) return undefined
        throw err
      }
      output = code
      return [...seen, ...leftovers(code, format)].sort()
    }
    pipelines.push(
      {
        name: `${processor.name} .md`,
        mdx: false,
        run: (source) => run(source, 'md'),
        inputs: () => inputs,
        output: () => output,
      },
      {
        name: `${processor.name} .mdx`,
        mdx: true,
        run: (source) => run(source, 'mdx'),
        inputs: () => inputs,
        output: () => output,
      },
    )
  }
  return pipelines
}

/**
 * `flux:` images that reach the output unresolved (raw HTML `<img>`, or an image no plugin saw):
 * the page would show them, so they count as found by the processor.
 */
function leftovers(code: string, format: 'md' | 'mdx'): string[] {
  if (format === 'md') return scanHtml(code, 'out.html').directives.map(requestOf)
  const found: string[] = []
  for (const m of code.matchAll(/\bsrc: ("(?:[^"\\]|\\.)*")/g)) {
    const url = JSON.parse(m[1] as string) as string
    const parsed = url.startsWith('flux:') ? parseDirective(url) : undefined
    if (parsed) found.push(requestOf(parsed))
  }
  return found
}

function fakeImage(prompt: string, alt: string, key: string): ImageResult {
  return {
    src: `/_flux/${key}.jpg`,
    width: 16,
    height: 16,
    alt,
    prompt,
    key,
    placeholder: undefined,
    dominantColor: '#000000',
    hasAlpha: false,
    sources: [],
    srcset: `/_flux/${key}.jpg 16w`,
    files: [],
  }
}

/** The requests only the scan makes and those only the processor makes (multisets). */
export function differences(scanned: readonly string[], seen: readonly string[]) {
  const minus = (a: readonly string[], b: readonly string[]) => {
    const rest = [...b]
    return a.filter((x) => {
      const at = rest.indexOf(x)
      if (at < 0) return true
      rest.splice(at, 1)
      return false
    })
  }
  return { onlyScan: minus(scanned, seen), onlyProcessor: minus(seen, scanned) }
}
