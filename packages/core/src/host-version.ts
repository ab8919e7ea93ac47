import semver from 'semver'
import { fluxError } from './errors.js'

/**
 * Fails at once, before anything is scanned or generated, when the host running an adapter
 * (Astro, Vite) is outside the range the adapter declares in its `peerDependencies`: on a version
 * we never tested, it would fail later, somewhere else, with an error that names neither.
 * Prereleases of a supported major are accepted.
 */
export function checkHostVersion(a: { adapter: string; host: string; version: string; range: string }): void {
  if (semver.satisfies(a.version, a.range, { includePrerelease: true })) return
  const newest = Math.max(...[...a.range.matchAll(/\^(\d+)/g)].map((m) => Number(m[1])))
  throw fluxError('FLUX_HOST_VERSION', a, {
    hint: `Install a supported ${a.host}, e.g. \`npm install ${a.host}@^${newest}\`; nothing was generated.`,
  })
}
