import { createRequire } from 'node:module'
import { checkHostVersion } from '@flux-images/core'
import { hostError } from '@flux-images/core/dev'

const own = createRequire(import.meta.url)

/**
 * The Vite running the build against our peer range: outside it, one error at config time naming
 * both, with its hint (Vite prints an error's message and stack, nothing else).
 */
export function checkViteVersion(version: string): void {
  const { name, peerDependencies } = own('../package.json') as {
    name: string
    peerDependencies: Record<string, string>
  }
  try {
    checkHostVersion({ adapter: name, host: 'vite', version, range: peerDependencies.vite ?? '*' })
  } catch (err) {
    throw hostError(err, process.cwd())
  }
}
