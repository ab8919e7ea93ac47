import { createHash, randomBytes } from 'node:crypto'
import fs, { existsSync } from 'node:fs'
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fileStamp, MAX_REVISED_PROMPT_CHARS } from '../../src/cache/cache-entry.js'
import { CACHE_GITIGNORE } from '../../src/cache/cache-layout.js'
import { CACHE_META_VERSION, createDiskCache, type DiskCache } from '../../src/cache/disk-cache.js'
import { requestKey } from '../../src/cache/request-key.js'
import { FluxError } from '../../src/errors.js'
import type { CanonicalRequest, GeneratedImage, Logger } from '../../src/types.js'

interface Recorded extends Logger {
  lines: { level: string; message: string }[]
  warnings(): string[]
}

function recorder(): Recorded {
  const lines: { level: string; message: string }[] = []
  return {
    lines,
    info: (message) => lines.push({ level: 'info', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
    error: (message) => lines.push({ level: 'error', message }),
    debug: (message) => lines.push({ level: 'debug', message }),
    warnings: () => lines.filter((l) => l.level === 'warn').map((l) => l.message),
  }
}

const request: CanonicalRequest = {
  model: 'flux-schnell',
  prompt: 'A lighthouse at dawn',
  size: '1536x1024',
  quality: 'standard',
}
const key = requestKey(request)

function image(bytes = randomBytes(4096), format = 'png'): GeneratedImage {
  return {
    bytes,
    format,
    width: 1536,
    height: 1024,
    revisedPrompt: 'A lighthouse at dawn, revised',
    created: 1_700_000_000,
  }
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')

let root: string
let dir: string
let logger: Recorded
let cache: DiskCache

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-cache-test-'))
  dir = join(root, '.flux-cache')
  logger = recorder()
  cache = createDiskCache({ dir, logger })
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('a cache that does not exist yet', () => {
  it('reads as empty and is not created by reads', async () => {
    expect(await cache.get(key)).toBeUndefined()
    expect(await cache.get(key, { placeholder: true })).toBeUndefined()
    expect(await cache.check(key)).toBe('missing')
    expect(await cache.refusals.get(key)).toBeUndefined()
    expect(await cache.list()).toEqual([])
    expect(await cache.listPlaceholders()).toEqual([])
    expect(await cache.keys()).toEqual([])
    expect(await cache.remove(key)).toBe(false)
    expect(existsSync(dir)).toBe(false)
    expect(logger.warnings()).toEqual([])
  })
})

describe('put and get', () => {
  it('round-trips an image and its metadata', async () => {
    const bytes = randomBytes(10_000)
    const stored = await cache.put(key, request, image(bytes), {
      provider: 'openai-images',
      placeholder: false,
    })
    const entry = await cache.get(key)
    expect(entry).toEqual(stored)
    expect(entry?.placeholder).toBe(false)
    expect(entry?.path).toBe(join(dir, 'originals', `${key}.png`))
    expect(await readFile(entry?.path ?? '')).toEqual(bytes)
    expect(entry?.meta).toEqual({
      version: CACHE_META_VERSION,
      key,
      request,
      provider: 'openai-images',
      model: 'flux-schnell',
      revisedPrompt: 'A lighthouse at dawn, revised',
      created: '2023-11-14T22:13:20.000Z',
      requestedSize: '1536x1024',
      width: 1536,
      height: 1024,
      format: 'png',
      bytes: 10_000,
      sha256: sha(bytes),
      stamp: fileStamp(await stat(join(dir, 'originals', `${key}.png`))),
      file: `${key}.png`,
    })
    const onDisk = JSON.parse(await readFile(join(dir, 'originals', `${key}.json`), 'utf8'))
    expect(onDisk).toEqual(entry?.meta)
    expect(await cache.check(key)).toBe('cached')
    expect(await cache.list()).toEqual([entry?.meta])
    expect((await cache.get(key))?.path).toBe(join(dir, 'originals', `${key}.png`))
    expect(stored.path).toBe(join(dir, 'originals', `${key}.png`))
  })

  it('stores only the canonical fields of the request, so nothing else reaches the disk', async () => {
    const carrying = {
      ...request,
      apiKey: 'sk-test-fake-key-1234',
      baseURL: 'http://127.0.0.1:9',
    } as CanonicalRequest
    await cache.put(key, carrying, image(), { provider: 'openai-images', placeholder: false })
    const text = await readFile(join(dir, 'originals', `${key}.json`), 'utf8')
    expect(text).not.toContain('sk-test-fake-key-1234')
    expect(text).not.toContain('127.0.0.1')
    expect(JSON.parse(text).request).toEqual(request)
  })

  it('writes the .gitignore on first use, ignoring what is local or derived', async () => {
    await cache.put(key, request, image(), { provider: 'openai-images', placeholder: false })
    const gitignore = await readFile(join(dir, '.gitignore'), 'utf8')
    expect(gitignore).toBe(CACHE_GITIGNORE)
    const ignored = gitignore.split('\n').filter((line) => line && !line.startsWith('#'))
    expect(ignored.sort()).toEqual([
      '/candidates/',
      '/jobs/',
      '/locks/',
      '/placeholders/',
      '/tmp/',
      '/variants/',
    ])
  })

  it('leaves an edited .gitignore alone', async () => {
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, '.gitignore'), 'mine\n')
    await cache.put(key, request, image(), { provider: 'openai-images', placeholder: false })
    expect(await readFile(join(dir, '.gitignore'), 'utf8')).toBe('mine\n')
  })

  it('replaces an entry stored in another format, leaving no stale file', async () => {
    await cache.put(key, request, image(randomBytes(100), 'png'), { provider: 'p', placeholder: false })
    const jpeg = randomBytes(200)
    const entry = await cache.put(key, request, image(jpeg, 'jpeg'), { provider: 'p', placeholder: false })
    expect(entry.path).toBe(join(dir, 'originals', `${key}.jpg`))
    expect((await readdir(join(dir, 'originals'))).sort()).toEqual([`${key}.jpg`, `${key}.json`])
    expect((await cache.get(key))?.meta.sha256).toBe(sha(jpeg))
  })

  it('leaves nothing in tmp/ after writes', async () => {
    await cache.put(key, request, image(), { provider: 'p', placeholder: false })
    await cache.refusals.put(requestKey({ ...request, prompt: 'other' }), request, 'refused')
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('refuses a format it cannot name a file after', async () => {
    const err = await cache
      .put(key, request, image(randomBytes(10), 'svg'), { provider: 'p', placeholder: false })
      .catch((e) => e)
    expect(FluxError.is(err, 'FLUX_BAD_IMAGE')).toBe(true)
    expect(existsSync(dir)).toBe(false)
  })
})

// Regression (issue 16, items 4 and 8): a 40 MB revised prompt was stored as is, and a `created`
// no Date can hold threw after the image was paid for.
describe('what the metadata keeps of an odd answer', () => {
  const put = (overrides: Partial<GeneratedImage>) =>
    cache.put(key, request, { ...image(), ...overrides }, { provider: 'openai-images', placeholder: false })

  it(`cuts a revised prompt to ${MAX_REVISED_PROMPT_CHARS} characters and a trailing …`, async () => {
    const stored = await put({ revisedPrompt: 'r'.repeat(1_000_000) })
    expect(stored.meta.revisedPrompt).toBe(`${'r'.repeat(MAX_REVISED_PROMPT_CHARS)}…`)
    const onDisk = await readFile(join(dir, 'originals', `${key}.json`), 'utf8')
    expect(onDisk.length).toBeLessThan(MAX_REVISED_PROMPT_CHARS + 2_000)
    expect((await cache.get(key))?.meta.revisedPrompt).toBe(stored.meta.revisedPrompt)
  })

  it('never cuts inside a surrogate pair, and keeps a revision at the cap whole', async () => {
    const pairAtCut = `${'r'.repeat(MAX_REVISED_PROMPT_CHARS - 1)}🌅🌅`
    expect((await put({ revisedPrompt: pairAtCut })).meta.revisedPrompt).toBe(
      `${'r'.repeat(MAX_REVISED_PROMPT_CHARS - 1)}…`,
    )
    const atCap = 'r'.repeat(MAX_REVISED_PROMPT_CHARS)
    expect((await put({ revisedPrompt: atCap })).meta.revisedPrompt).toBe(atCap)
  })

  it.each([1e20, Number.MAX_VALUE])('stores the image of created: %s, dated now', async (created) => {
    const before = Date.now()
    const stored = await put({ created })
    const at = Date.parse(stored.meta.created)
    expect(at).toBeGreaterThanOrEqual(before - 1_000)
    expect(at).toBeLessThanOrEqual(Date.now())
    expect(await cache.check(key)).toBe('cached')
  })

  it('keeps a date past year 9999 (created: 1e12) and reads the entry back as cached', async () => {
    const stored = await put({ created: 1e12 })
    expect(stored.meta.created).toMatch(/^\+0\d{5}-/)
    expect(await createDiskCache({ dir, logger }).check(key)).toBe('cached')
  })
})

describe('keys', () => {
  it.each(['', '../../../etc/passwd', 'A lighthouse at dawn', key.toUpperCase(), `${key}0`])(
    'refuses %j before building any path',
    async (bad) => {
      await expect(cache.get(bad)).rejects.toThrow(TypeError)
      await expect(cache.put(bad, request, image(), { provider: 'p', placeholder: false })).rejects.toThrow(
        TypeError,
      )
      await expect(cache.withLock(bad, async () => 1)).rejects.toThrow(TypeError)
      expect(existsSync(dir)).toBe(false)
    },
  )
})

describe('integrity', () => {
  const originals = () => join(dir, 'originals')

  async function stored(): Promise<Buffer> {
    const bytes = randomBytes(50_000)
    await cache.put(key, request, image(bytes), { provider: 'p', placeholder: false })
    return bytes
  }

  it('does not serve a truncated image, and warns FLUX_CACHE_CORRUPT once with the key and the reason', async () => {
    const bytes = await stored()
    await writeFile(join(originals(), `${key}.png`), bytes.subarray(0, 20_000))
    const fresh = createDiskCache({ dir, logger })
    expect(await fresh.get(key)).toBeUndefined()
    expect(await fresh.get(key)).toBeUndefined()
    const warnings = logger.warnings()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('FLUX_CACHE_CORRUPT')
    expect(warnings[0]).toContain(key)
    expect(warnings[0]).toContain('20000 bytes')
    expect(await fresh.check(key)).toBe('corrupt')
  })

  it('does not serve an image with a flipped byte and the same size', async () => {
    const bytes = await stored()
    const flipped = Buffer.from(bytes)
    flipped[12_345] = (flipped[12_345] ?? 0) ^ 0xff
    await writeFile(join(originals(), `${key}.png`), flipped)
    expect(await cache.get(key)).toBeUndefined()
    expect(logger.warnings()[0]).toMatch(/FLUX_CACHE_CORRUPT[\s\S]*sha256|sha256[\s\S]*FLUX_CACHE_CORRUPT/)
    expect(await cache.check(key)).toBe('corrupt')
  })

  it('hashes a file again once it changed, even after this process verified it', async () => {
    const bytes = await stored()
    expect(await cache.check(key)).toBe('cached')
    const flipped = Buffer.from(bytes)
    flipped[7] = (flipped[7] ?? 0) ^ 0xff
    // Rewritten in place, same size, its modification time put back: the change time still tells.
    const path = join(originals(), `${key}.png`)
    const { atime, mtime } = await stat(path)
    await writeFile(path, flipped)
    await utimes(path, atime, mtime)
    expect(await cache.check(key)).toBe('corrupt')
  })

  it('trusts a file still as it was written (its stamp) in any process without hashing it; a copy is hashed', async () => {
    await stored()
    const path = join(originals(), `${key}.png`)
    const metaPath = join(originals(), `${key}.json`)
    const meta = JSON.parse(await readFile(metaPath, 'utf8'))
    // A content hash that matches nothing: only a check that does not hash passes it.
    await writeFile(metaPath, JSON.stringify({ ...meta, sha256: 'f'.repeat(64) }))
    expect(await createDiskCache({ dir, logger }).check(key)).toBe('cached')
    // The same bytes copied in place (a restored cache): a new inode, so hashed, and the hash is wrong.
    await writeFile(`${path}.copy`, await readFile(path))
    await rename(`${path}.copy`, path)
    expect(await createDiskCache({ dir, logger }).check(key)).toBe('corrupt')
  })

  it('reads an image without metadata as missing, without a warning', async () => {
    await stored()
    await rm(join(originals(), `${key}.json`))
    expect(await cache.get(key)).toBeUndefined()
    expect(await cache.check(key)).toBe('missing')
    expect(logger.warnings()).toEqual([])
  })

  it.each([
    ['garbage metadata', () => '{"version": 1, "key": '],
    ['metadata of another key', (meta: string) => meta.replaceAll(key, 'a'.repeat(24))],
    [
      'metadata naming a file outside the entry',
      (meta: string) => meta.replace(`"${key}.png"`, '"../../x.png"'),
    ],
    ['metadata of an unknown version', (meta: string) => meta.replace(/"version": \d+/, '"version": 99')],
    // Validated on read against the record's schema: a field of the wrong kind is never trusted.
    ['a request of unknown quality', (meta: string) => meta.replace('"standard"', '"ultra"')],
    ['a negative width', (meta: string) => meta.replace(/"width": \d+/, '"width": -1')],
    [
      'a creation time that is no time',
      (meta: string) => meta.replace(/"created": "[^"]+"/, '"created": "yesterday"'),
    ],
  ])('does not serve an entry with %s', async (_name, edit) => {
    await stored()
    const metaPath = join(originals(), `${key}.json`)
    await writeFile(metaPath, edit(await readFile(metaPath, 'utf8')))
    expect(await cache.get(key)).toBeUndefined()
    expect(logger.warnings()[0]).toContain('FLUX_CACHE_CORRUPT')
    expect(await cache.check(key)).toBe('corrupt')
  })

  it('names the field that failed its schema in the warning', async () => {
    await stored()
    const metaPath = join(originals(), `${key}.json`)
    await writeFile(metaPath, (await readFile(metaPath, 'utf8')).replace('"standard"', '"ultra"'))
    expect(await cache.get(key)).toBeUndefined()
    expect(logger.warnings()[0]).toContain('its metadata is malformed at request.quality')
  })

  it('does not serve metadata whose image is gone', async () => {
    await stored()
    await rm(join(originals(), `${key}.png`))
    expect(await cache.get(key)).toBeUndefined()
    expect(logger.warnings()[0]).toContain('missing')
  })

  it('serves the entry again once it is regenerated', async () => {
    const bytes = await stored()
    await writeFile(join(originals(), `${key}.png`), bytes.subarray(0, 10))
    expect(await cache.get(key)).toBeUndefined()
    const again = randomBytes(3000)
    await cache.put(key, request, image(again), { provider: 'p', placeholder: false })
    expect((await cache.get(key))?.meta.sha256).toBe(sha(again))
  })

  // Regression: a reader that saw the old metadata and then the new image must not call the
  // entry corrupt while a writer replaces it.
  it('never reports a replacement in progress as corrupt', async () => {
    await stored()
    const reader = createDiskCache({ dir, logger })
    let writing = true
    const writer = (async () => {
      for (let i = 0; i < 60; i++) {
        await cache.put(key, request, image(randomBytes(20_000 + i)), { provider: 'p', placeholder: false })
      }
      writing = false
    })()
    let served = 0
    while (writing) {
      // Another process's reader would not hold up the writer: this one, in the writer's process,
      // lets its I/O run (an entry unchanged since the last read is served without any).
      await new Promise((resolve) => setImmediate(resolve))
      const entry = await reader.get(key)
      if (entry) {
        served++
        expect(entry.meta.bytes).toBeGreaterThanOrEqual(20_000)
      }
    }
    await writer
    expect(served).toBeGreaterThan(0)
    expect(logger.warnings()).toEqual([])
  })
})

describe('reads of metadata in one process', () => {
  // Every read of the entry's metadata file, failed ones included, through Node's readFile as the
  // cache reaches it.
  const reads: string[] = []
  const realReadFile = fs.promises.readFile
  beforeEach(() => {
    reads.length = 0
    fs.promises.readFile = ((path: string, ...rest: []) => {
      reads.push(String(path))
      return realReadFile(path, ...rest)
    }) as typeof fs.promises.readFile
    syncBuiltinESMExports()
  })
  afterEach(() => {
    fs.promises.readFile = realReadFile
    syncBuiltinESMExports()
  })
  const metaReads = () => reads.filter((path) => path === join(dir, 'originals', `${key}.json`)).length

  it('reads none for an entry it wrote, once for one another process wrote, and sees a replacement', async () => {
    const bytes = randomBytes(4096)
    expect(await cache.get(key)).toBeUndefined()
    expect(await cache.check(key)).toBe('missing')
    await cache.put(key, request, image(bytes), { provider: 'p', placeholder: false })
    expect((await cache.get(key))?.meta.sha256).toBe(sha(bytes))
    expect(await cache.check(key)).toBe('cached')
    expect(metaReads()).toBe(0)
    // Another process, as a second cache over the same folder: it reads the entry once.
    const other = createDiskCache({ dir, logger })
    expect(await other.check(key)).toBe('cached')
    expect((await other.get(key))?.meta.provider).toBe('p')
    expect(metaReads()).toBe(1)
    // It stores the key again, the same bytes under new metadata: the first cache reads that, once.
    await other.put(key, request, image(bytes), { provider: 'q', placeholder: false })
    expect(metaReads()).toBe(1)
    expect((await cache.get(key))?.meta.provider).toBe('q')
    expect((await cache.get(key))?.meta.provider).toBe('q')
    expect(await cache.check(key)).toBe('cached')
    expect(metaReads()).toBe(2)
    expect(logger.warnings()).toEqual([])
  })
})

describe('temp files', () => {
  it('removes temp files left by a crash on first use and keeps recent ones', async () => {
    const tmp = join(dir, 'tmp')
    await mkdir(tmp, { recursive: true })
    await writeFile(join(tmp, '0123456789abcdef.tmp'), 'partial')
    const anHourAgo = new Date(Date.now() - 3_600_000)
    await utimes(join(tmp, '0123456789abcdef.tmp'), anHourAgo, anHourAgo)
    await writeFile(join(tmp, 'fedcba9876543210.tmp'), 'being written')
    expect(await cache.get(key)).toBeUndefined()
    expect(await readdir(tmp)).toEqual(['fedcba9876543210.tmp'])
  })

  // Regression (issue 16, item 3): cleanup followed a symlinked tmp/ out of the cache, and
  // `cacheDir: '.'` emptied the project's own tmp/.
  it('never removes through a tmp/ that is a symbolic link, and says so once', async () => {
    const outside = join(root, 'outside')
    await mkdir(outside)
    await mkdir(dir, { recursive: true })
    const anHourAgo = new Date(Date.now() - 3_600_000)
    for (const name of ['0123456789abcdef.tmp', 'precious.txt']) {
      await writeFile(join(outside, name), 'not the cache')
      await utimes(join(outside, name), anHourAgo, anHourAgo)
    }
    await symlink(outside, join(dir, 'tmp'))
    expect(await cache.check(key)).toBe('missing')
    expect(await cache.get(key)).toBeUndefined()
    expect((await readdir(outside)).sort()).toEqual(['0123456789abcdef.tmp', 'precious.txt'])
    expect(logger.warnings()).toHaveLength(1)
    expect(logger.warnings()[0]).toContain(`${join(dir, 'tmp')} alone`)
    expect(logger.warnings()[0]).toContain('symbolic link')
  })

  it("with cacheDir '.', removes from the project's tmp/ only old files named as the cache names them", async () => {
    const project = createDiskCache({ dir: root, logger })
    const tmp = join(root, 'tmp')
    const outside = join(root, 'elsewhere.txt')
    await mkdir(join(tmp, 'nested'), { recursive: true })
    await writeFile(outside, 'kept')
    const anHourAgo = new Date(Date.now() - 3_600_000)
    const names = ['build.log', 'session.tmp', 'ABCDEF0123456789.tmp', '0123456789abcdef.tmp', 'nested']
    for (const name of names.slice(0, 4)) await writeFile(join(tmp, name), 'project file')
    // A link named like a temp file: the link may go, never what it points to.
    await symlink(outside, join(tmp, 'fedcba9876543210.tmp'))
    for (const name of [...names, 'fedcba9876543210.tmp']) await utimes(join(tmp, name), anHourAgo, anHourAgo)
    expect(await project.check(key)).toBe('missing')
    expect((await readdir(tmp)).sort()).toEqual([
      'ABCDEF0123456789.tmp',
      'build.log',
      'fedcba9876543210.tmp',
      'nested',
      'session.tmp',
    ])
    expect(await readFile(outside, 'utf8')).toBe('kept')
    expect(logger.warnings()).toEqual([])
  })

  it('removes old lock drafts and set-aside locks, and leaves locks alone', async () => {
    const locks = join(dir, 'locks')
    await mkdir(locks, { recursive: true })
    const anHourAgo = new Date(Date.now() - 3_600_000)
    for (const name of [`${key}.lock`, `${key}.lock.0a0b0c0d0e0f.new`, `${key}.lock.0a0b0c0d0e0f.stale`]) {
      await writeFile(join(locks, name), '{}')
      await utimes(join(locks, name), anHourAgo, anHourAgo)
    }
    await writeFile(join(locks, `${key}.lock.111111111111.new`), '{}')
    expect(await cache.check(key)).toBe('missing')
    expect((await readdir(locks)).sort()).toEqual([`${key}.lock`, `${key}.lock.111111111111.new`])
  })

  it('never reads a temp file, even one holding a complete entry', async () => {
    const tmp = join(dir, 'tmp')
    await mkdir(tmp, { recursive: true })
    await writeFile(join(tmp, `${key}.png`), 'x')
    await writeFile(join(tmp, `${key}.json`), JSON.stringify({ version: 1, key }))
    expect(await cache.get(key)).toBeUndefined()
    expect(await cache.check(key)).toBe('missing')
    expect(await cache.keys()).toEqual([])
  })
})

describe('placeholders', () => {
  it('are stored apart, never count as real, and are replaced by a real put', async () => {
    const local = await cache.put(key, request, image(randomBytes(500)), {
      provider: 'placeholder',
      placeholder: true,
    })
    expect(local.placeholder).toBe(true)
    expect(local.path).toBe(join(dir, 'placeholders', `${key}.png`))
    expect(await cache.get(key)).toBeUndefined()
    expect(await cache.get(key, { placeholder: true })).toEqual(local)
    expect(await cache.check(key)).toBe('placeholder')
    expect(await cache.list()).toEqual([])
    expect((await cache.listPlaceholders()).map((m) => m.key)).toEqual([key])
    expect(existsSync(join(dir, 'originals', `${key}.png`))).toBe(false)

    const real = await cache.put(key, request, image(), { provider: 'openai-images', placeholder: false })
    expect(await cache.get(key, { placeholder: true })).toEqual(real)
    expect(await cache.check(key)).toBe('cached')
    expect(await readdir(join(dir, 'placeholders'))).toEqual([])
    expect(await cache.listPlaceholders()).toEqual([])
  })

  it('a corrupt placeholder is not served either', async () => {
    await cache.put(key, request, image(randomBytes(500)), { provider: 'placeholder', placeholder: true })
    await writeFile(join(dir, 'placeholders', `${key}.png`), 'x')
    expect(await cache.get(key, { placeholder: true })).toBeUndefined()
    expect(logger.warnings()[0]).toContain('FLUX_CACHE_CORRUPT')
  })
})

describe('moderation', () => {
  it('remembers a refusal and forgets it on request', async () => {
    await cache.refusals.put(key, request, 'prompt flagged by the safety system')
    const record = await cache.refusals.get(key)
    expect(record).toMatchObject({ key, request, detail: 'prompt flagged by the safety system' })
    expect(Number.isNaN(Date.parse(record?.created ?? ''))).toBe(false)
    expect(await cache.check(key)).toBe('moderated')
    expect(await cache.keys()).toEqual([key])
    expect(await cache.refusals.remove(key)).toBe(true)
    expect(await cache.refusals.get(key)).toBeUndefined()
    expect(await cache.refusals.remove(key)).toBe(false)
    expect(await cache.check(key)).toBe('missing')
  })

  it('is cleared by a real put, not by a placeholder', async () => {
    await cache.refusals.put(key, request, 'refused')
    await cache.put(key, request, image(), { provider: 'placeholder', placeholder: true })
    expect(await cache.check(key)).toBe('moderated')
    await cache.put(key, request, image(), { provider: 'openai-images', placeholder: false })
    expect(await cache.refusals.get(key)).toBeUndefined()
    expect(await cache.check(key)).toBe('cached')
  })

  it('a record that fails its schema reads as no refusal, so nothing is refused on its word', async () => {
    await cache.refusals.put(key, request, 'refused')
    const path = join(dir, 'moderation', `${key}.json`)
    const record = JSON.parse(await readFile(path, 'utf8'))
    await writeFile(path, JSON.stringify({ ...record, detail: { html: '<script>' } }))
    expect(await cache.refusals.get(key)).toBeUndefined()
    expect(await cache.check(key)).toBe('missing')
  })

  it('belongs to its key only', async () => {
    await cache.refusals.put(key, request, 'refused')
    expect(
      await cache.refusals.get(requestKey({ ...request, prompt: 'A lighthouse at dusk' })),
    ).toBeUndefined()
  })
})

describe('remove, list and keys', () => {
  it('removes every file of a key and nothing else', async () => {
    const other = requestKey({ ...request, prompt: 'other' })
    await cache.put(key, request, image(), { provider: 'p', placeholder: false })
    await cache.put(key, request, image(), { provider: 'placeholder', placeholder: true })
    await cache.put(other, { ...request, prompt: 'other' }, image(), { provider: 'p', placeholder: false })
    await cache.refusals.put(key, request, 'refused')
    expect(await cache.keys()).toEqual([key, other].sort())
    expect(await cache.remove(key)).toBe(true)
    expect(await cache.keys()).toEqual([other])
    expect((await cache.list()).map((m) => m.key)).toEqual([other])
    expect(await cache.remove(key)).toBe(false)
    expect(await cache.get(other)).toBeDefined()
  })
})

describe('write failures', () => {
  async function expectWriteError(run: Promise<unknown>) {
    const err = await run.catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_CACHE_WRITE')).toBe(true)
    expect((err as FluxError).message).toContain(dir)
    return err as FluxError
  }

  it('reports FLUX_CACHE_WRITE when the cache folders cannot be created', async () => {
    // A file where tmp/ should be: mkdir and open fail as on a read-only disk, even for root.
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'tmp'), 'not a folder')
    await expectWriteError(cache.put(key, request, image(), { provider: 'p', placeholder: false }))
    await expectWriteError(cache.refusals.put(key, request, 'refused'))
    expect(existsSync(join(dir, 'originals', `${key}.png`))).toBe(false)
    expect(existsSync(join(dir, 'originals', `${key}.json`))).toBe(false)
  })

  it('removes the written temp file when the final rename fails', async () => {
    // A folder where the image should go: the temp file is complete, the rename fails.
    await mkdir(join(dir, 'originals', `${key}.png`), { recursive: true })
    const err = await expectWriteError(
      cache.put(key, request, image(), { provider: 'p', placeholder: false }),
    )
    expect(err.message).toMatch(/EISDIR|EEXIST|ENOTEMPTY|EPERM/)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(existsSync(join(dir, 'originals', `${key}.json`))).toBe(false)
    expect(await cache.check(key)).toBe('missing')
  })

  it('reports FLUX_CACHE_WRITE when the lock folder cannot be created', async () => {
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'locks'), 'not a folder')
    let ran = false
    await expectWriteError(
      cache.withLock(key, async () => {
        ran = true
      }),
    )
    expect(ran).toBe(false)
  })

  it('an error thrown inside withLock passes through untouched and releases the lock', async () => {
    const boom = new Error('generation failed')
    await expect(cache.withLock(key, () => Promise.reject(boom))).rejects.toBe(boom)
    expect(await readdir(join(dir, 'locks'))).toEqual([])
    expect(await cache.withLock(key, async () => 'again')).toBe('again')
  })
})

describe('options', () => {
  it('rejects a non-positive staleMs', () => {
    expect(() => createDiskCache({ dir, logger, staleMs: 0 })).toThrow(/staleMs/)
  })

  it('resolves a relative dir against the working directory', () => {
    expect(createDiskCache({ dir: 'rel-cache', logger }).dir).toBe(join(process.cwd(), 'rel-cache'))
  })
})
