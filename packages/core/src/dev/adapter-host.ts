import { readFileSync } from 'node:fs'
import { checkHostVersion } from '../host-version.js'

/**
 * The host running an adapter against the range the adapter declares (its `package.json`'s
 * `peerDependencies`): undefined within it, else FLUX_HOST_VERSION naming both, for the adapter
 * to throw at config time in its host's form.
 */
export function hostVersionError(packageJson: URL, host: 'astro' | 'vite', version: string): unknown {
  const { name, peerDependencies } = JSON.parse(readFileSync(packageJson, 'utf8')) as {
    name: string
    peerDependencies?: Record<string, string>
  }
  try {
    checkHostVersion({ adapter: name, host, version, range: peerDependencies?.[host] ?? '*' })
  } catch (err) {
    return err
  }
  return undefined
}
