import { createRequire } from 'node:module'
import { checkHostVersion } from '@flux-images/core'

const own = createRequire(import.meta.url)

/**
 * The Astro that builds the site (resolved from the project's root, where its CLI comes from)
 * against our peer range: outside it, one error at config time naming both.
 */
export function checkAstroVersion(root: URL): void {
  const { name, peerDependencies } = own('../package.json') as {
    name: string
    peerDependencies: Record<string, string>
  }
  const { version } = createRequire(new URL('package.json', root))('astro/package.json') as {
    version: string
  }
  checkHostVersion({ adapter: name, host: 'astro', version, range: peerDependencies.astro ?? '*' })
}
