import { createRequire } from 'node:module'
import { checkHostVersion } from '@flux-images/core'

const own = createRequire(import.meta.url)

/** The Vite running the build against our peer range: outside it, one error at config time naming both. */
export function checkViteVersion(version: string): void {
  const { name, peerDependencies } = own('../package.json') as {
    name: string
    peerDependencies: Record<string, string>
  }
  checkHostVersion({ adapter: name, host: 'vite', version, range: peerDependencies.vite ?? '*' })
}
