// Throwaway projects for the benchmarks, under bench/.tmp (git-ignored), and the realistic image
// set that sections 1 and 3 serve from the mock gateway.
//
//   BENCH_TMP                                    bench/.tmp
//   const photos = await benchPhotos(48)         [{ prompt, size, bytes, width, height }] photo-like PNGs
//   await writeDirectiveProject(dir, photos)     markdown files holding one directive per photo
//   await freshDir(dir)                          an empty directory (removed first if present)
//   CLI_BIN                                      the built `flux-images` CLI
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { photoSet } from './photos.mjs'

export const BENCH_TMP = fileURLToPath(new URL('../.tmp', import.meta.url))
export const CLI_BIN = fileURLToPath(new URL('../../packages/core/dist/cli/bin.js', import.meta.url))
export const CORE_DIST = new URL('../../packages/core/dist/', import.meta.url)

/** An empty directory at `dir`. */
export async function freshDir(dir) {
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  await mkdir(dir, { recursive: true })
  return dir
}

// What a generator's PNGs weigh: ~1.8 MB at 1024x1024, ~2.7 MB at 1536x1024.
const PNG = { compressionLevel: 6, adaptiveFiltering: true }

/**
 * `count` photo-like originals, half 1024x1024 and half 1536x1024 (three generated bases per size,
 * varied), each with the prompt that asks for it. The same bytes every run; made once into
 * bench/.tmp/photos and read back afterwards.
 */
export async function benchPhotos(count = 48) {
  const half = Math.ceil(count / 2)
  const set = await photoSet(join(BENCH_TMP, 'photos'), [
    { width: 1024, height: 1024, count: half, bases: 3, png: PNG },
    { width: 1536, height: 1024, count: count - half, bases: 3, png: PNG },
  ])
  return set.map((p) => ({
    ...p,
    size: `${p.width}x${p.height}`,
    prompt: `Bench photo ${p.width}x${p.height} number ${p.index}, golden hour`,
  }))
}

/** Markdown files under `<dir>/posts`, `perFile` directives each, asking for every item's prompt and size. */
export async function writeDirectiveProject(dir, items, { perFile = 4, config } = {}) {
  await freshDir(dir)
  await mkdir(join(dir, 'posts'), { recursive: true })
  for (let f = 0; f * perFile < items.length; f++) {
    const lines = [`---`, `title: Post ${f}`, `---`, '', `# Post ${f}`, '']
    for (const item of items.slice(f * perFile, (f + 1) * perFile)) {
      lines.push(
        `Some words about the picture below.`,
        '',
        `![${item.prompt}](<flux:${item.prompt}?size=${item.size}>)`,
        '',
      )
    }
    await writeFile(join(dir, 'posts', `post-${String(f).padStart(3, '0')}.md`), lines.join('\n'))
  }
  if (config)
    await writeFile(join(dir, 'flux.config.mjs'), `export default ${JSON.stringify(config, null, 2)}\n`)
  return dir
}
