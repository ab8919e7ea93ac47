import { createHash } from 'node:crypto'
import type { Flux } from '../create-flux.js'
import type { ScanReport } from '../engine/scan-report.js'

/**
 * What rendered content depends on: the image options, whether images are generated or drawn
 * locally, and each scanned image's cache status. Astro's content store keeps rendered markdown
 * and parsed frontmatter across builds and dev sessions, keyed on the config: stored in the
 * markdown processor's options, this digest makes Astro render entries again when it changes (a
 * build after an offline one, a dev session after images arrived), and only then.
 */
export function contentDigest({ options }: Flux, { items }: ScanReport): string {
  const hash = createHash('sha256').update(
    JSON.stringify([options.image, options.mode, options.apiKey !== undefined]),
  )
  for (const item of items.toSorted((a, b) => a.key.localeCompare(b.key))) {
    hash.update(`\n${item.key} ${item.status}`)
  }
  return hash.digest('hex').slice(0, 16)
}
