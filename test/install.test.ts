import { createHash } from 'node:crypto'
import { access, constants, cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  exec,
  floorOf,
  PACKAGES,
  type PackageName,
  packedManifest,
  packTarballs,
  pnpm,
  userEnv,
} from './helpers/packed.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'
import { createS3Server, type S3Server } from './s3-server/index.js'

// The product installed as users install it: the three packages packed with `pnpm pack`, their
// tarballs installed into new projects outside the workspace (an Astro site shaped like Astro's blog
// starter, with @astrojs/mdx 7; a plain Vite app), built against the mock gateway. This is what
// catches `files`, `exports`, `bin`, peer ranges and anything that only works inside the workspace.

// A fake key with a distinctive shape; it lives only in the projects' .env files.
const KEY = 'sk-flux-install-5c1d7e-DO-NOT-LEAK'
// What flux.config.mjs sets (and nothing else does).
const CONFIGURED = { model: 'flux-schnell', size: '1536x1024', quality: 'hd' }

/**
 * Astro's blog starter ships `"@astrojs/mdx": "^7.0.7"`, `"astro": "^7.2.4"`, `"sharp": "^0.35.0"`.
 * The site installs the lowest Astro 7 versions our peer ranges accept (astro's, and @astrojs/mdx 7's):
 * the workspace's own tests run the newest (astro 7.3, @astrojs/mdx 8), so both ends are tested;
 * the host matrix (test/matrix) builds Astro 5 and 6.
 */
const ASTRO_SITE = {
  fixture: 'install-astro',
  dependencies: {
    '@astrojs/mdx': floorOf('astro', '@astrojs/mdx', 7),
    astro: floorOf('astro', 'astro', 7),
    sharp: '^0.35.0',
  },
  flux: ['astro'] as PackageName[],
  build: ['astro', 'build'],
  // The index's <FluxImage>, two heroes (string and object frontmatter), two body images (.md, .mdx;
  // the fox twice).
  prompts: [
    'A cosy writing desk by a window, morning light',
    'A mountain lake at sunrise, mist over the water',
    'A red fox standing in fresh snow',
    'An old typewriter on a wooden table',
    'A paper lantern glowing at dusk',
  ],
  // Added before the auto-mode build, which must generate it itself.
  added: {
    file: 'src/content/blog/added-in-build.md',
    text: "---\ntitle: 'Added'\ndescription: 'New'\npubDate: 'Jan 01 2025'\n---\n\n![A heron](flux:A grey heron in a reed bed)\n",
    prompt: 'A grey heron in a reed bed',
  },
}

/**
 * create-vite's shape: index.html at the root, a module under src/. create-vite ships
 * `"vite": "^8.3.4"`, Astro 7 needs `^8.0.13`: the app installs the lowest our peer range accepts
 * in Vite 8 (the Astro site above gets the newest; the host matrix builds Vite 6 and 7).
 */
const VITE_APP = {
  fixture: 'install-vite',
  dependencies: { vite: floorOf('vite', 'vite', 8) },
  flux: ['vite'] as PackageName[],
  build: ['vite', 'build'],
  prompts: ['A paper boat on a rainy street puddle', 'A red kite over sand dunes, blue sky'],
  added: {
    file: 'src/extra.js',
    text: "import owl from 'flux:A snowy owl on a fence post'\n\nexport default owl\n",
    prompt: 'A snowy owl on a fence post',
  },
}

type Project = typeof ASTRO_SITE | typeof VITE_APP
// A guard against a hung build, not a speed check: real builds on a CI machine busy with other test files.
const BUILD_TIMEOUT = 240_000

let work: string
let gateway: MockGateway
let s3: S3Server
let tarballs: Record<PackageName, string>
const installs = new Map<Project, { root: string; output: string }>()

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flux-install-'))
  gateway = await createMockGateway({ apiKey: KEY })
  s3 = await createS3Server()
  tarballs = await packTarballs(join(work, 'packs'))
  // Both installs at once: they share pnpm's store, and each takes a while.
  await Promise.all(
    [ASTRO_SITE, VITE_APP].map(async (project) => installs.set(project, await install(project))),
  )
}, 600_000)

afterAll(async () => {
  await gateway?.close()
  await s3?.close()
  if (work) await rm(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
})

describe('the packed packages', () => {
  it("rewrite workspace ranges, and ship every export, the bin, the components and the maps' sources", async () => {
    for (const name of PACKAGES) {
      const dir = installedPackage(name)
      const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'))
      const ranges = { ...manifest.dependencies, ...manifest.peerDependencies }
      expect(Object.values(ranges).filter((r) => String(r).startsWith('workspace:'))).toEqual([])
      for (const target of exportTargets(manifest.exports)) {
        await expect(access(join(dir, target)), `${name}: ${target}`).resolves.toBeUndefined()
      }
      for (const bin of Object.values<string>(manifest.bin ?? {})) {
        await expect(access(join(dir, bin), constants.X_OK), `${name}: ${bin}`).resolves.toBeUndefined()
      }
      // Nothing of the workspace's own (tests, build state), and no source map pointing outside the package.
      const files = await readdir(dir, { recursive: true })
      expect(files.filter((f) => /^test\/|tsbuildinfo|tsconfig/.test(f))).toEqual([])
      const maps = files.filter((f) => f.endsWith('.map'))
      for (const map of maps) {
        const { sources } = JSON.parse(await readFile(join(dir, map), 'utf8')) as { sources: string[] }
        for (const source of sources) {
          await expect(
            access(join(dir, dirname(map), source)),
            `${name}: ${map} -> ${source}`,
          ).resolves.toBeUndefined()
        }
      }
    }
  })

  it('carry the keywords `astro add` and the plugin lists look for', async () => {
    const keywords = async (name: PackageName) =>
      JSON.parse(await readFile(join(installedPackage(name), 'package.json'), 'utf8')).keywords as string[]
    expect(await keywords('astro')).toEqual(expect.arrayContaining(['astro-integration', 'withastro']))
    expect(await keywords('vite')).toEqual(expect.arrayContaining(['vite-plugin']))
    expect(await keywords('core')).toEqual(expect.arrayContaining(['flux', 'image-generation']))
  })

  it('install into the starters without an unmet or invalid peer of ours', () => {
    for (const project of [ASTRO_SITE, VITE_APP]) {
      const output = installs.get(project)?.output ?? ''
      // pnpm lists peer problems as a tree under this heading, ended by a blank line.
      const start = output.indexOf('Issues with peer dependencies')
      const issues = start < 0 ? '' : (output.slice(start).split(/\n\s*\n/)[0] ?? '')
      expect(issues.includes('@flux-images/') ? issues : '', project.fixture).toBe('')
    }
  })

  it('export the adapters as default exports too (`astro add` writes `import flux from`)', async () => {
    for (const [name, project] of [
      ['astro', ASTRO_SITE],
      ['vite', VITE_APP],
    ] as const) {
      const script = [
        `const adapter = await import('@flux-images/${name}')`,
        'console.log(JSON.stringify({ same: adapter.default === adapter.flux, type: typeof adapter.default }))',
      ].join('\n')
      const run = await exec(process.execPath, ['--input-type=module', '-e', script], {
        cwd: rootOf(project),
        env: userEnv(),
      })
      expect(run.code, run.stderr).toBe(0)
      expect(JSON.parse(run.stdout), name).toEqual({ same: true, type: 'function' })
    }
  })
})

describe.each([
  ['an Astro site like the blog starter, with @astrojs/mdx 7', ASTRO_SITE],
  ['a plain Vite app', VITE_APP],
] as const)('%s', (_, project) => {
  it(
    '`flux-images generate` pays for each image once, with the key only in .env and the options only in flux.config.mjs',
    async () => {
      const root = rootOf(project)
      const before = requestsFor(project.prompts)
      const run = await exec(join(root, 'node_modules', '.bin', 'flux-images'), ['generate'], {
        cwd: root,
        env: userEnv(),
      })
      expect(run.code, run.stderr).toBe(0)
      // Real images, each paid once: one request per distinct prompt, none a placeholder.
      expect(requestsFor(project.prompts) - before).toBe(project.prompts.length)
      for (const prompt of project.prompts) expect(gateway.requestsByPrompt.get(prompt), prompt).toBe(1)
      const originals = await originalsOf(root)
      expect(originals.map((o) => o.request.prompt).sort()).toEqual([...project.prompts].sort())
      for (const { request } of originals) expect(request).toMatchObject(CONFIGURED)
      expect(await placeholdersOf(root)).toEqual([])
    },
    BUILD_TIMEOUT,
  )

  it(
    'then a frozen build sends 0 requests and fails nothing: it computes the same keys',
    async () => {
      const root = rootOf(project)
      const requests = gateway.requests
      const run = await build(project, { FLUX_MODE: 'frozen' })
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(gateway.requests - requests).toBe(0)
      const html = await builtHtml(root)
      expect(html).not.toContain('flux:')
      expect(html).toMatch(/<picture|<img[^>]+src="\/[^"]*_flux\//)
    },
    BUILD_TIMEOUT,
  )

  it(
    'a build in auto mode generates a new image itself (real, key from .env), which the CLI then reuses',
    async () => {
      const root = rootOf(project)
      await writeFile(join(root, project.added.file), project.added.text)
      if (project === VITE_APP) {
        await writeFile(
          join(root, 'src', 'main.js'),
          `${await readFile(join(root, 'src', 'main.js'), 'utf8')}\nimport owl from './extra.js'\nconsole.log(owl.src)\n`,
        )
      }
      const requests = gateway.requests
      const run = await build(project, {})
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(gateway.requests - requests).toBe(1)
      expect(gateway.requestsByPrompt.get(project.added.prompt)).toBe(1)
      expect(await placeholdersOf(root)).toEqual([])
      const added = (await originalsOf(root)).find((o) => o.request.prompt === project.added.prompt)
      expect(added?.request).toMatchObject(CONFIGURED)

      const again = await exec(join(root, 'node_modules', '.bin', 'flux-images'), ['generate'], {
        cwd: root,
        env: userEnv(),
      })
      expect(again.code, again.stderr).toBe(0)
      expect(gateway.requests - requests).toBe(1)
      // Across every entry point of this project: each image paid exactly once.
      for (const prompt of [...project.prompts, project.added.prompt])
        expect(gateway.requestsByPrompt.get(prompt), prompt).toBe(1)
    },
    BUILD_TIMEOUT,
  )

  it(
    'with a shared bucket: `flux-images push` seeds it, and a checkout with an empty cache builds frozen from it, to the same images',
    async () => {
      const root = rootOf(project)
      const count = project.prompts.length + 1
      const remote = {
        FLUX_REMOTE_URL: `s3://${s3.bucket}/${project.fixture}`,
        FLUX_REMOTE_ENDPOINT: s3.url,
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        ...(s3.credentials.sessionToken && { AWS_SESSION_TOKEN: s3.credentials.sessionToken }),
      }
      const push = await exec(join(root, 'node_modules', '.bin', 'flux-images'), ['push'], {
        cwd: root,
        env: userEnv(remote),
      })
      expect(push.code, push.stderr).toBe(0)
      expect(push.stdout).toContain(`Uploaded ${count} original(s)`)
      const built = await imagesOf(join(root, 'dist'))
      // Another checkout: no local cache, no output.
      await rm(join(root, '.flux-cache'), { recursive: true })
      await rm(join(root, 'dist'), { recursive: true })
      const requests = gateway.requests
      s3.reset()
      const run = await build(project, { ...remote, FLUX_MODE: 'frozen' })
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(gateway.requests - requests).toBe(0)
      expect(s3.count('GET', { status: 200 })).toBe(count * 2)
      expect(s3.count('PUT') + s3.count('DELETE')).toBe(0)
      expect(run.stdout + run.stderr).toContain(`remote: ${count} downloaded`)
      expect(run.stdout + run.stderr).not.toContain(s3.credentials.secretAccessKey)
      expect(await imagesOf(join(root, 'dist'))).toEqual(built)
    },
    BUILD_TIMEOUT,
  )
})

// --- helpers ---------------------------------------------------------------------------------

/** Where a package is installed as a direct dependency: the adapters in their own project, core in both. */
function installedPackage(name: PackageName): string {
  return join(rootOf(name === 'vite' ? VITE_APP : ASTRO_SITE), 'node_modules', '@flux-images', name)
}

function rootOf(project: Project): string {
  const installed = installs.get(project)
  if (!installed) throw new Error(`${project.fixture} was not installed`)
  return installed.root
}

/** A new project outside the workspace: the fixture, a package.json naming the tarballs, a .env with the key. */
async function install(project: Project): Promise<{ root: string; output: string }> {
  const root = join(work, project.fixture)
  await cp(fileURLToPath(new URL(`fixtures/${project.fixture}`, import.meta.url)), root, { recursive: true })
  const manifest = packedManifest(
    `flux-${project.fixture}`,
    tarballs,
    project.dependencies,
    project.flux,
    project.build.join(' '),
  )
  await writeFile(join(root, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  // The only place the key and the gateway are given, as a user keeps them.
  await writeFile(join(root, '.env'), `FLUX_API_KEY=${KEY}\nFLUX_BASE_URL=${gateway.url}\n`)
  const run = await pnpm(
    ['install', '--prefer-offline', '--reporter=append-only', '--no-frozen-lockfile'],
    root,
  )
  return { root, output: run.stdout + run.stderr }
}

/** The project's build through its installed bin (`astro build`, `vite build`). */
function build(project: Project, env: Record<string, string>) {
  const root = rootOf(project)
  const [bin, ...args] = project.build as [string, ...string[]]
  return exec(join(root, 'node_modules', '.bin', bin), args, { cwd: root, env: userEnv(env) })
}

function requestsFor(prompts: string[]): number {
  return prompts.reduce((sum, prompt) => sum + (gateway.requestsByPrompt.get(prompt) ?? 0), 0)
}

interface Original {
  request: { prompt: string; model: string; size: string; quality: string }
}

/** The metadata of every real original in the project's cache. */
async function originalsOf(root: string): Promise<Original[]> {
  const dir = join(root, '.flux-cache', 'originals')
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.json'))
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as Original))
}

/** Placeholder images in the project's cache: none once a key is configured. */
async function placeholdersOf(root: string): Promise<string[]> {
  return readdir(join(root, '.flux-cache', 'placeholders')).catch(() => [])
}

/** Every image file of a build's output, by path, as its SHA-256. */
async function imagesOf(dist: string): Promise<Record<string, string>> {
  const files = (await readdir(dist, { recursive: true })).filter((f) => /\.(png|jpe?g|webp|avif)$/.test(f))
  expect(files.length).toBeGreaterThan(0)
  const hashes: Record<string, string> = {}
  for (const file of files.sort()) {
    hashes[file] = createHash('sha256')
      .update(await readFile(join(dist, file)))
      .digest('hex')
  }
  return hashes
}

/** Every built HTML page, concatenated. */
async function builtHtml(root: string): Promise<string> {
  const dist = join(root, 'dist')
  const pages = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.html'))
  expect(pages.length).toBeGreaterThan(0)
  return (await Promise.all(pages.map((p) => readFile(join(dist, p), 'utf8')))).join('\n')
}

/** The file paths an `exports` map points at. */
function exportTargets(exports: unknown): string[] {
  if (typeof exports === 'string') return [exports]
  if (exports && typeof exports === 'object') return Object.values(exports).flatMap(exportTargets)
  return []
}
