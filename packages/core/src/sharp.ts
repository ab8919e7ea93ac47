/**
 * sharp, loaded on first use. Loading libvips and its codecs costs 70-180 ms on the 2-core machine
 * of BENCHMARKS.md, and most runs never decode: a warm build, a scan, a dry run.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type SharpModule from 'sharp'

export type SharpFn = typeof SharpModule

let loading: Promise<SharpFn> | undefined

/**
 * The sharp function. Its operation cache is turned off on load (process-wide): it keeps recent
 * images in memory and never helps here, where every input is read once.
 */
export function loadSharp(): Promise<SharpFn> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false)
    return sharp
  })
  return loading
}

let version: string | undefined

/**
 * The installed sharp's version, from its package.json, without loading libvips. A sharp release
 * pins the libvips and codecs it ships, so the version names the encoders; a sharp built against
 * a system libvips that is upgraded in place is the exception (its variants stay until pruned).
 */
export function sharpVersion(): string {
  if (version !== undefined) return version
  // The package exports no package.json: walk up from its entry point to the one named sharp.
  let dir = dirname(createRequire(import.meta.url).resolve('sharp'))
  for (;;) {
    const pkg = readPackage(join(dir, 'package.json'))
    if (pkg?.name === 'sharp' && typeof pkg.version === 'string') {
      version = pkg.version
      return version
    }
    const up = dirname(dir)
    if (up === dir) throw new Error('[flux] cannot find the package.json of sharp')
    dir = up
  }
}

function readPackage(file: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
}
