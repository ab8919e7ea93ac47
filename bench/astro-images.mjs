// Astro's own image components with flux: heroes: a measurement, not a test. Prepares two copies of
// the test site shaped like Astro's blog starter (test/fixtures/astro-blog-starter), each with its
// caches filled by one cold build against the mock gateway:
//   <dir>/flux  two posts' heroes are flux: directives (string and object forms), typed with image()
//               under fluxSchema(): the generated originals go through Astro's pipeline;
//   <dir>/jpg   the same site, those two heroes replaced by local .jpg files of the same pixels
//               (the originals re-encoded as JPEG q90), as a site without flux: heroes has them.
// Both keep flux() for the rest of the site (<FluxImage>, a flux: import), so the difference is the
// heroes' path alone. Then time warm builds of each, whole processes, alternating, e.g.:
//
//   node bench/astro-images.mjs [dir]      (default <os temp>/flux-bench-astro-images)
//   cd <dir>/flux && /usr/bin/time -v node node_modules/astro/bin/astro.mjs build
//   cd <dir>/jpg  && /usr/bin/time -v node node_modules/astro/bin/astro.mjs build
//
// A warm build of either copy sends no request: FLUX_BASE_URL points at a closed port, so one
// would fail the build.
import { cp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSession } from '@flux-images/core'
import sharp from 'sharp'
import { measureProcess } from './lib/measure.mjs'
import { BENCH_KEY, benchEnv, loadMockGateway } from './lib/mock.mjs'

const STARTER = fileURLToPath(new URL('../test/fixtures/astro-blog-starter', import.meta.url))
const MODULES = fileURLToPath(new URL('../test/node_modules', import.meta.url))
const root = process.argv[2] ?? join(tmpdir(), 'flux-bench-astro-images')
// Astro's cache per copy: both copies link one node_modules, where it would otherwise be shared.
const CONFIG = `import { flux } from '@flux-images/astro'
export default { site: 'https://blog.example', cacheDir: './.astro-cache', integrations: [flux()] }
`
const HEROES = {
  'mountain-lake.md': { file: 'lake.jpg', directive: 'flux:A quiet mountain lake at dawn?size=1536x1024' },
  'red-kite.md': { file: 'kite.jpg', directive: 'flux:A red kite over green hills?size=1344x768' },
}

async function copy(name) {
  const dir = join(root, name)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await cp(STARTER, dir, { recursive: true })
  await symlink(MODULES, join(dir, 'node_modules'), 'dir')
  await writeFile(join(dir, 'astro.config.mjs'), CONFIG)
  return dir
}

const astroBuild = (dir, env) =>
  measureProcess(process.execPath, [join(dir, 'node_modules/astro/bin/astro.mjs'), 'build'], {
    cwd: dir,
    env,
    stdout: 'ignore',
  })

const { createMockGateway } = await loadMockGateway()
const gateway = await createMockGateway({ apiKey: BENCH_KEY })
try {
  const flux = await copy('flux')
  const cold = await astroBuild(flux, benchEnv(gateway))
  console.log(`flux: cold build ${Math.round(cold.wallMs)} ms, ${gateway.requests} requests`)
  const jpg = await copy('jpg')
  // The same pixels as the flux copy's originals of these heroes (a cache hit: no request).
  const session = await createSession({ root: flux, apiKey: BENCH_KEY, baseURL: gateway.url })
  for (const [post, { file, directive }] of Object.entries(HEROES)) {
    const { entry } = await session.flux.resolve(directive)
    await sharp(entry.path)
      .jpeg({ quality: 90 })
      .toFile(join(jpg, 'src/assets', file))
    const path = join(jpg, 'src/content/blog', post)
    const text = await readFile(path, 'utf8')
    await writeFile(
      path,
      text.replace(/heroImage:( '.*'|\n( {2}.*\n)+)/, `heroImage: '../../assets/${file}'\n`),
    )
  }
  await session.close()
  // The flux copy's cache serves the jpg copy's remaining directives: no request there either.
  await cp(join(flux, '.flux-cache'), join(jpg, '.flux-cache'), { recursive: true })
  const jpgCold = await astroBuild(jpg, benchEnv(gateway))
  console.log(`jpg: cold build ${Math.round(jpgCold.wallMs)} ms, ${gateway.requests} requests in all`)
  const closed = { FLUX_API_KEY: BENCH_KEY, FLUX_BASE_URL: 'http://127.0.0.1:9' }
  for (const dir of [flux, jpg]) {
    const warm = await astroBuild(dir, benchEnv(undefined, closed))
    console.log(`${dir}: warm build ${Math.round(warm.wallMs)} ms, exit ${warm.code}`)
  }
  console.log(
    `ready: ${root}/flux and ${root}/jpg (FLUX_API_KEY=${BENCH_KEY} FLUX_BASE_URL=http://127.0.0.1:9)`,
  )
} finally {
  await gateway.close()
}
