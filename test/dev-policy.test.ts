import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSession, type FluxOptions } from '@flux-images/core'
import { flux } from '@flux-images/vite'
import sharp from 'sharp'
import { createServer } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OverlayError, startAstroDev, watchHmr } from './helpers/dev-server.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

/**
 * The one dev policy, seen from outside, the same in `vite dev` and `astro dev`: one table of
 * cache states, each run against both hosts by a small adapter that asks the host for the thing
 * that shows the image and reads what came back.
 */

const KEY = 'sk-flux-dev-policy-5c1e'
// Inside the repository, so that the Astro projects resolve astro and the integration from test/node_modules.
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
// A pending image's URL (`.../_flux/~<key>/<file>`): the placeholder's files until the real one exists.
const PENDING_URL = /\/_flux\/~[0-9a-f]{24}\//
// Hang guards only, generous for a busy 2-core machine: nothing here measures time.
const GUARD_MS = 60_000

/** What a host answered for the thing that shows the image. */
interface Answer {
  status: number
  /** The image's URL, when the answer is a page or module that shows it. */
  src?: string
  /** What went wrong when it could not be read (not the host's error: that goes to the overlay). */
  problem?: string
}

/** An answer, and for a failed one the error the host sent to its overlay. */
interface Shown extends Answer {
  error?: OverlayError
}

interface Running {
  /** Requests the thing that shows the image: Vite's `flux:` module, Astro's page. */
  show(): Promise<Answer>
  origin: string
  /** What the host printed, for failure messages. */
  output(): string
  close(): Promise<void>
}

interface Host {
  name: string
  /** Writes a fresh project whose one source shows `directive`; `file` and `line` say where it is written. */
  project(directive: string): Promise<{ root: string; file: string; line: number }>
  start(root: string, options: FluxOptions): Promise<Running>
}

interface Project {
  root: string
  options: FluxOptions
  directive: string
}

interface Case {
  name: string
  mode: 'auto' | 'frozen'
  /** What the project's cache holds before the dev server starts (nothing when absent). */
  arrange?: (project: Project) => Promise<void>
  /** Host-independent. `placeholder`: at once, then a reload, then the real image. */
  expected: { shows: 'placeholder'; requests: 1 } | { shows: 'error'; message: RegExp; requests: 0 }
}

let gateway: MockGateway
const temps: string[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway?.close()
  await Promise.all(
    temps.map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })),
  )
})

/** One run of core's session on the project, as the CLI or a build would: the cache is filled the way it really is. */
async function firstRun({ root, options, directive }: Project): Promise<void> {
  const session = await createSession({ ...options, mode: 'auto' }, { root, command: 'build' })
  try {
    await session.flux.image(directive)
  } finally {
    await session.close()
  }
}

const CASES: Case[] = [
  {
    name: 'missing',
    mode: 'auto',
    expected: { shows: 'placeholder', requests: 1 },
  },
  {
    name: 'moderated (a refusal remembered in the cache)',
    mode: 'auto',
    async arrange(project) {
      gateway.fault = () => ({ type: 'moderation' })
      await expect(firstRun(project)).rejects.toThrow(/moderation/)
    },
    expected: { shows: 'error', message: /refused this prompt \(moderation\)/, requests: 0 },
  },
  {
    name: 'corrupt (the cached original damaged on disk)',
    mode: 'auto',
    async arrange(project) {
      await firstRun(project)
      const originals = join(project.root, '.flux-cache', 'originals')
      const [image] = (await readdir(originals)).filter((name) => !name.endsWith('.json'))
      expect(image, 'one original in the cache').toBeDefined()
      const path = join(originals, image ?? '')
      const bytes = await readFile(path)
      bytes.fill(0, bytes.length >> 1)
      await writeFile(path, bytes)
    },
    expected: { shows: 'placeholder', requests: 1 },
  },
  {
    name: 'missing in frozen mode',
    mode: 'frozen',
    expected: { shows: 'error', message: /frozen/i, requests: 0 },
  },
]

async function tempProject(prefix: string): Promise<string> {
  await mkdir(TMP, { recursive: true })
  const dir = await mkdtemp(join(TMP, prefix))
  temps.push(dir)
  return dir
}

async function write(root: string, file: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, file)), { recursive: true })
  await writeFile(join(root, file), text)
}

const vite: Host = {
  name: 'vite dev',
  async project(directive) {
    const root = await tempProject('dev-policy-vite-')
    await write(root, 'index.html', '<!doctype html>\n<script type="module" src="/src/show.ts"></script>\n')
    await write(
      root,
      'src/show.ts',
      `// The image of this project.\nimport image from '${directive}'\nexport default image\n`,
    )
    return { root, file: 'src/show.ts', line: 2 }
  },
  async start(root, options) {
    const server = await createServer({
      root,
      configFile: false,
      logLevel: 'silent',
      server: { port: 0, host: '127.0.0.1' },
      plugins: [flux(options)],
    })
    await server.listen()
    const origin = `http://127.0.0.1:${(server.httpServer?.address() as AddressInfo | null)?.port}`
    return {
      origin,
      async show() {
        const importer = await (
          await fetch(`${origin}/src/show.ts`, { signal: AbortSignal.timeout(GUARD_MS) })
        ).text()
        const id = /"(\/@id\/__x00__flux:[0-9a-f]+)"/.exec(importer)?.[1]
        if (!id) return { status: 0, problem: `no flux: import in /src/show.ts:\n${importer}` }
        const res = await fetch(origin + id, { signal: AbortSignal.timeout(GUARD_MS) })
        const text = await res.text()
        if (!res.ok) return { status: res.status }
        return {
          status: res.status,
          src: JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)).src,
        }
      },
      output: () => '',
      close: () => server.close(),
    }
  },
}

const astro: Host = {
  name: 'astro dev',
  async project(directive) {
    const root = await tempProject('dev-policy-astro-')
    await write(root, 'package.json', '{ "name": "dev-policy-fixture", "private": true, "type": "module" }\n')
    await write(root, 'src/pages/index.md', `# The image of this project\n\n![A picture](${directive})\n`)
    return { root, file: 'src/pages/index.md', line: 3 }
  },
  async start(root, options) {
    await write(
      root,
      'astro.config.mjs',
      `import { flux } from '@flux-images/astro'\nexport default { devToolbar: { enabled: false }, integrations: [flux(${JSON.stringify(options)})] }\n`,
    )
    const server = await startAstroDev(root)
    return {
      origin: server.origin,
      async show() {
        const res = await fetch(`${server.origin}/`, { signal: AbortSignal.timeout(GUARD_MS) })
        const text = await res.text()
        if (!res.ok) return { status: res.status }
        return { status: res.status, src: /<img[^>]* src="([^"]+)"/.exec(text)?.[1] }
      },
      output: server.output,
      close: server.close,
    }
  },
}

describe.for([vite, astro])('$name: the dev policy', (host) => {
  it.for(CASES)('$name', { timeout: 5 * GUARD_MS }, async (c) => {
    const prompt = `A lighthouse on a cliff, ${c.name}, ${host.name}`
    const directive = `flux:${prompt}`
    const { root, file, line } = await host.project(directive)
    const options: FluxOptions = {
      apiKey: KEY,
      baseURL: gateway.url,
      mode: c.mode,
      image: { widths: [160], maxWidth: 320 },
    }
    await c.arrange?.({ root, options, directive })
    gateway.reset()
    // Nothing the gateway makes exists before the release: what the page got first did not wait for it.
    gateway.hold()
    const release = () => gateway.release()
    const server = await host.start(root, options)
    const hmr = await watchHmr(server.origin).catch(async (err) => {
      await server.close()
      throw err
    })
    const context = () => `--- ${host.name} said ---\n${server.output()}`
    /** The answer, and for a failed one the error its overlay receives. */
    const show = async (): Promise<Shown> => {
      const seen = hmr.errors.length
      const answer = await server.show()
      if (answer.status === 200 || answer.problem) return answer
      await expect
        .poll(() => hmr.errors.length, { timeout: GUARD_MS, message: `an overlay error\n${context()}` })
        .toBeGreaterThan(seen)
      return { ...answer, error: hmr.errors[seen] }
    }
    const bytes = async (src: string) => {
      const res = await fetch(server.origin + src)
      expect(res.status, src).toBe(200)
      return Buffer.from(await res.arrayBuffer())
    }
    try {
      if (c.expected.shows === 'placeholder') {
        // The server starts generating what the project misses, before any page asks.
        await expect
          .poll(() => gateway.requests, { timeout: GUARD_MS, message: `a request at start\n${context()}` })
          .toBe(c.expected.requests)
      }
      const first = await show()
      if (c.expected.shows === 'error') {
        expect(first.status, `${first.problem}\n${context()}`).toBe(500)
        // At the directive: in the message, and where the overlay points.
        expect(first.error?.message).toContain(`${file}:${line}:`)
        expect(first.error?.message).toMatch(c.expected.message)
        expect(first.error?.loc, 'the overlay points at the directive').toMatchObject({
          file: join(root, file),
          line,
        })
        // Asked again, the same error: nothing is retried behind the page's back.
        const again = await show()
        expect(again.status).toBe(500)
        expect(again.error?.message).toMatch(c.expected.message)
        release()
        expect(gateway.requests).toBe(c.expected.requests)
        return
      }

      expect(first.status, `${first.problem ?? JSON.stringify(first.error)}\n${context()}`).toBe(200)
      expect(first.src).toMatch(PENDING_URL)
      expect(gateway.generated, 'answered before any image existed').toBe(0)
      const pendingSrc = first.src ?? ''
      const placeholder = await bytes(pendingSrc)
      expect((await sharp(placeholder).metadata()).width).toBeGreaterThan(0)
      const reloadsBefore = hmr.reloads

      release()
      let last: Shown = first
      await expect
        .poll(
          async () => {
            last = await show()
            return hmr.reloads > reloadsBefore && last.status === 200 && !PENDING_URL.test(last.src ?? '')
          },
          { timeout: GUARD_MS, interval: 200 },
        )
        .toBe(true)
        .catch((err: Error) => {
          throw new Error(`${err.message}\nlast answer: ${JSON.stringify(last)}\n${context()}`)
        })
      const real = await bytes(last.src ?? '')
      expect((await sharp(real).metadata()).width).toBeGreaterThan(0)
      expect(real.equals(placeholder), 'the real image differs from the placeholder').toBe(false)
      // A page still holding the pending URL now gets the real image.
      expect((await bytes(pendingSrc)).equals(placeholder)).toBe(false)
      expect(gateway.requests).toBe(c.expected.requests)
      expect(gateway.generatedByPrompt.get(prompt)).toBe(1)
    } finally {
      release()
      hmr.close()
      await server.close()
    }
  })
})
