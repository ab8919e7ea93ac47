import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { cacheWriteError, disablesWrites } from '../../src/cache/cache-write-error.js'
import { createDiskCache } from '../../src/cache/disk-cache.js'
import { makeDir } from '../../src/cache/fs-util.js'
import { requestKey } from '../../src/cache/request-key.js'
import { ERRORS, FluxError } from '../../src/errors.js'
import type { CanonicalRequest, Logger } from '../../src/types.js'

const DIR = '/srv/site/.flux-cache'

/** A system error as Node builds them. */
function systemError(code: string, text: string, syscall = 'open', path = `${DIR}/tmp/0a1b.tmp`) {
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${path}'`), { code, syscall, path })
}

describe('cacheWriteError', () => {
  it.each([
    ['ENOSPC', 'no space left on device', 'the disk is full', /Free space on the disk/],
    ['EDQUOT', 'disk quota exceeded', 'the disk quota is exhausted', /Free space within your quota/],
    [
      'EROFS',
      'read-only file system',
      'the file system is read-only',
      /Mount it read-write, or point the `cacheDir`/,
    ],
    ['EACCES', 'permission denied', 'permission denied', /write access to the cache directory/],
    ['EPERM', 'operation not permitted', 'the operation is not permitted', /write access/],
    ['ENOTDIR', 'not a directory', 'a file stands where a folder is expected', /Remove or rename that file/],
  ])('%s: says what it means, keeps the path, and says what to do', (code, text, what, hint) => {
    const err = cacheWriteError(DIR, systemError(code, text))
    expect(err.code).toBe('FLUX_CACHE_WRITE')
    expect(err.message).toBe(
      `[flux] Could not write to the cache directory ${DIR}: ${what} (${code}: ${text}, open '${DIR}/tmp/0a1b.tmp')`,
    )
    expect(err.hint).toMatch(hint)
    expect((err.cause as Error).message).toContain(code)
  })

  it('an unknown system error keeps its own message and the catalog hint', () => {
    const err = cacheWriteError(DIR, systemError('EIO', 'i/o error', 'write'))
    expect(err.message).toBe(
      `[flux] Could not write to the cache directory ${DIR}: EIO: i/o error, write '${DIR}/tmp/0a1b.tmp'`,
    )
    expect(err.hint).toBe(ERRORS.FLUX_CACHE_WRITE.hint)
  })

  it('a value that is not an Error still gives a message', () => {
    expect(cacheWriteError(DIR, 'boom').message).toContain(': boom')
  })

  it('passes a FluxError through untouched', () => {
    const original = new FluxError('FLUX_INTERRUPTED', 'stopped')
    expect(cacheWriteError(DIR, original)).toBe(original)
  })
})

describe('disablesWrites', () => {
  it.each(['ENOSPC', 'EDQUOT', 'EROFS'])('%s: no later write can succeed, raw or wrapped', (code) => {
    const raw = systemError(code, 'x')
    expect(disablesWrites(raw)).toBe(true)
    expect(disablesWrites(cacheWriteError(DIR, raw))).toBe(true)
  })

  it.each(['EACCES', 'ENOTDIR', 'EISDIR', 'EIO'])('%s: a problem with one path, not the disk', (code) => {
    expect(disablesWrites(systemError(code, 'x'))).toBe(false)
    expect(disablesWrites(cacheWriteError(DIR, systemError(code, 'x')))).toBe(false)
  })

  it('anything else is not', () => {
    expect(disablesWrites(new Error('boom'))).toBe(false)
    expect(disablesWrites(undefined)).toBe(false)
  })
})

describe('the disk cache reports them', () => {
  const logger: Logger = { info() {}, warn() {}, error() {} }
  const request: CanonicalRequest = {
    model: 'flux-schnell',
    prompt: 'a kite',
    size: '64x64',
    quality: 'standard',
  }
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'flux-write-error-'))
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  it('a file where the cache folder should be: located in words, with the path and a hint', async () => {
    const dir = join(root, '.flux-cache')
    await mkdir(root, { recursive: true })
    await writeFile(dir, 'not a folder')
    const cache = createDiskCache({ dir, logger })
    const image = { bytes: Buffer.from('x'), format: 'png' as const, width: 1, height: 1, created: 0 }
    const err = await cache
      .put(requestKey(request), request, image, { provider: 'p', placeholder: false })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(FluxError.is(err, 'FLUX_CACHE_WRITE')).toBe(true)
    expect((err as FluxError).message).toContain(`${dir}: a file stands where a folder is expected (`)
    expect((err as FluxError).hint).toMatch(/Remove or rename that file/)
  })
})

describe('makeDir', () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'flux-make-dir-'))
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  it('creates nested folders, and again without complaint', async () => {
    await makeDir(join(root, 'a', 'b', 'c'))
    await makeDir(join(root, 'a', 'b', 'c'))
    expect((await stat(join(root, 'a', 'b', 'c'))).isDirectory()).toBe(true)
  })

  it('reports a file in the way with its own code, not ENOENT', async () => {
    await writeFile(join(root, 'a'), 'a file')
    const err = await makeDir(join(root, 'a', 'b')).catch((e: NodeJS.ErrnoException) => e)
    expect(['ENOTDIR', 'EEXIST']).toContain((err as NodeJS.ErrnoException).code)
  })
})
