import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { hostVersionError } from '../src/dev/adapter-host.js'
import { FluxError } from '../src/errors.js'
import { checkHostVersion } from '../src/host-version.js'

const ASTRO = { adapter: '@flux-images/astro', host: 'astro', range: '^5.7.10 || ^6.0.0 || ^7.2.4' }

function thrown(version: string): FluxError {
  try {
    checkHostVersion({ ...ASTRO, version })
  } catch (err) {
    if (FluxError.is(err, 'FLUX_HOST_VERSION')) return err
    throw err
  }
  throw new Error(`astro ${version} was accepted`)
}

describe('checkHostVersion', () => {
  describe('a version in the range', () => {
    it.each(['5.7.10', '5.18.2', '6.0.0', '6.4.8', '7.2.4', '7.4.8', '7.5.0-beta.1'])(
      'accepts %s',
      (version) => {
        expect(() => checkHostVersion({ ...ASTRO, version })).not.toThrow()
      },
    )
  })

  describe('a version outside the range', () => {
    it.each(['4.16.19', '5.7.9', '7.2.3', '8.0.0', '8.0.0-alpha.1'])('refuses %s', (version) => {
      expect(thrown(version).code).toBe('FLUX_HOST_VERSION')
    })

    it('names the adapter, the range, the version found, and the newest major to install', () => {
      const err = thrown('4.16.19')
      expect(err.message).toBe(
        '[flux] @flux-images/astro supports astro ^5.7.10 || ^6.0.0 || ^7.2.4; this project runs astro 4.16.19.',
      )
      expect(err.hint).toBe('Install a supported astro, e.g. `npm install astro@^7`; nothing was generated.')
    })
  })
})

describe('hostVersionError: the adapters read their own declared range', () => {
  const adapter = (name: string) => new URL(`../../${name}/package.json`, import.meta.url)

  it.each([
    ['astro', '@flux-images/astro'],
    ['vite', '@flux-images/vite'],
  ] as const)('%s: a version outside its peer range names the package and its range', (host, name) => {
    const err = hostVersionError(adapter(host), host, '1.0.0')
    const { peerDependencies } = JSON.parse(readFileSync(adapter(host), 'utf8'))
    expect(FluxError.is(err, 'FLUX_HOST_VERSION')).toBe(true)
    expect((err as FluxError).message).toBe(
      `[flux] ${name} supports ${host} ${peerDependencies[host]}; this project runs ${host} 1.0.0.`,
    )
  })

  it('accepts the hosts the repository tests with', () => {
    const installed = (host: string) =>
      JSON.parse(
        readFileSync(new URL(`../../${host}/node_modules/${host}/package.json`, import.meta.url), 'utf8'),
      ).version as string
    expect(hostVersionError(adapter('astro'), 'astro', installed('astro'))).toBeUndefined()
    expect(hostVersionError(adapter('vite'), 'vite', installed('vite'))).toBeUndefined()
  })
})
