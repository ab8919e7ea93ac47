// The Astro peer's site: the template in ./astro-site copied under bench/.tmp, the sources copied
// into its src/images, and one page with a <Picture> per source.
import { copyFile, cp, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const TEMPLATE = new URL('astro-site/', import.meta.url)

/**
 * The widths asked of every contender, never upscaled: 480/960/1440 for a 1536 px source,
 * 480/960/1024 for a 1024 px one.
 */
export function wantedWidths(sourceWidth, widths = [480, 960, 1440]) {
  return [...new Set(widths.map((w) => Math.min(w, sourceWidth)))].sort((a, b) => a - b)
}

/** The page: each source imported and given to <Picture> with its widths and the largest as `width`. */
export function astroPage(sources) {
  const imports = sources.map((s, i) => `import i${i} from '../images/${s.name}.png'`)
  // Without `width`, <Picture> encodes the fallback at the original's full width.
  const pictures = sources.map((s, i) => {
    const widths = wantedWidths(s.width)
    const width = widths[widths.length - 1]
    return `<Picture src={i${i}} widths={[${widths.join(', ')}]} width={${width}} sizes="100vw" formats={['avif', 'webp']} alt="" />`
  })
  return `---\nimport { Picture } from 'astro:assets'\n${imports.join('\n')}\n---\n<html lang="en">\n<head><meta charset="utf-8" /><title>peers</title></head>\n<body>\n${pictures.join('\n')}\n</body>\n</html>\n`
}

/** Writes the site to `dir` (replacing it): template, sources, page. */
export async function writeAstroSite(dir, sources) {
  await rm(dir, { recursive: true, force: true })
  await cp(TEMPLATE, dir, { recursive: true })
  await mkdir(join(dir, 'src', 'images'), { recursive: true })
  await mkdir(join(dir, 'src', 'pages'), { recursive: true })
  for (const s of sources) await copyFile(s.path, join(dir, 'src', 'images', `${s.name}.png`))
  await writeFile(join(dir, 'src', 'pages', 'index.astro'), astroPage(sources))
}

/** A cold build: Astro's image cache (node_modules/.astro), its .astro folder and the output gone. */
export async function makeAstroCold(dir) {
  for (const sub of ['node_modules', '.astro', 'dist'])
    await rm(join(dir, sub), { recursive: true, force: true })
}
