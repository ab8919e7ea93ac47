/**
 * Odd answers from a real HTTP gateway (the mock, over loopback), through the whole engine: what
 * ends up in the committed metadata, and that a paid image is never thrown away for a field.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createMockGateway, type MockGateway } from '../../../../test/mock-gateway/index.js'
import { MAX_REVISED_PROMPT_CHARS } from '../../src/cache/cache-entry.js'
import { createFlux } from '../../src/create-flux.js'
import type { Logger } from '../../src/types.js'

const KEY = 'sk-engine-0123456789abcdef-secret'

let mock: MockGateway
let root: string
const lines: string[] = []
const logger: Logger = {
  info: (m) => lines.push(`info ${m}`),
  warn: (m) => lines.push(`warn ${m}`),
  error: (m) => lines.push(`error ${m}`),
}

beforeAll(async () => {
  mock = await createMockGateway({ apiKey: KEY })
})
afterAll(() => mock.close())
beforeEach(async () => {
  mock.reset()
  lines.length = 0
  root = await mkdtemp(join(tmpdir(), 'flux-answers-'))
  await writeFile(join(root, 'a.md'), '![x](flux:a lighthouse at dawn)\n')
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

async function generate() {
  const flux = createFlux(
    { root, progress: 'off', logger, maxRetries: 0 },
    { env: { FLUX_API_KEY: KEY, FLUX_BASE_URL: mock.url } },
  )
  return flux.generate()
}

async function storedMeta(): Promise<{ text: string; meta: Record<string, unknown> }> {
  const originals = join(root, '.flux-cache', 'originals')
  const files = (await readdir(originals)).filter((name) => name.endsWith('.json'))
  expect(files).toHaveLength(1)
  const text = await readFile(join(originals, files[0] ?? ''), 'utf8')
  return { text, meta: JSON.parse(text) as Record<string, unknown> }
}

// Regression (issue 16, item 4): a gateway that echoes the key in `revised_prompt` had it stored in
// clear in originals/<key>.json, the file the README says to commit; 40 MB revisions were stored.
describe('revised_prompt', () => {
  it('is stored without the key and cut to the cap: 1 request, 1 image stored', async () => {
    mock.fault = () => ({ type: 'odd-answer', revisedPrompt: 'x'.repeat(200_000), echoKey: true })
    const summary = await generate()
    expect(summary).toMatchObject({ generated: 1, failed: [] })
    expect(mock.requests).toBe(1)
    const { text, meta } = await storedMeta()
    expect(meta.revisedPrompt).toBe(`${'x'.repeat(MAX_REVISED_PROMPT_CHARS)}…`)
    expect(text).not.toContain(KEY)
  })

  it('an echoed key within the cap is redacted where it stood', async () => {
    mock.fault = () => ({ type: 'odd-answer', revisedPrompt: 'a lighthouse', echoKey: true })
    await generate()
    const { text, meta } = await storedMeta()
    expect(text).not.toContain(KEY)
    expect(meta.revisedPrompt).toMatch(/^a lighthouse \(received Authorization: Bearer \[redacted\]/)
  })
})

// Regression (issue 23, section 2): only the exact key and `Bearer <key>` were redacted; a
// lowercased, URL-encoded or base64 copy reached originals/<key>.json.
describe('revised_prompt holding the key in another form', () => {
  // Its own gateway and key: mixed case and `+/=`, so that every form differs from the key.
  const ODD_KEY = 'sk-Flux+Gate/Way=Key0123456789AbCd'
  let odd: MockGateway
  beforeAll(async () => {
    odd = await createMockGateway({ apiKey: ODD_KEY })
  })
  afterAll(() => odd.close())
  beforeEach(() => odd.reset())

  const b64 = (text: string) => Buffer.from(text).toString('base64')
  const b64url = (text: string) => Buffer.from(text).toString('base64url')
  it.each([
    ['lowercase', ODD_KEY.toLowerCase(), 'a lighthouse [redacted]'],
    ['uppercase', ODD_KEY.toUpperCase(), 'a lighthouse [redacted]'],
    ['URL-encoded', encodeURIComponent(ODD_KEY), 'a lighthouse [redacted]'],
    ['base64', b64(ODD_KEY), 'a lighthouse [redacted]=='],
    ['base64url', b64url(ODD_KEY), 'a lighthouse [redacted]'],
    ['base64 of `Bearer <key>`', b64(`Bearer ${ODD_KEY}`), 'a lighthouse QmVhcmVyI[redacted]='],
    ['base64url of `Bearer <key>`', b64url(`Bearer ${ODD_KEY}`), 'a lighthouse QmVhcmVyI[redacted]'],
  ])('%s: stored as [redacted], in the file on disk', async (_form, text, stored) => {
    odd.fault = () => ({ type: 'odd-answer', revisedPrompt: `a lighthouse ${text}` })
    const flux = createFlux(
      { root, progress: 'off', logger, maxRetries: 0 },
      { env: { FLUX_API_KEY: ODD_KEY, FLUX_BASE_URL: odd.url } },
    )
    expect(await flux.generate()).toMatchObject({ generated: 1, failed: [] })
    expect(odd.requests).toBe(1)
    const { text: file, meta } = await storedMeta()
    expect(meta.revisedPrompt).toBe(stored)
    expect(file).not.toContain(text)
    expect(lines.join('\n')).not.toContain(text)
  })
})

// Regression (issue 16, item 8): `created: 1e20` threw after the image was received; the paid
// image was thrown away and the failure reported as an overloaded gateway.
describe('created', () => {
  it('1e20: the image is stored (1 request, 0 failed), dated now, with one warning', async () => {
    mock.fault = () => ({ type: 'odd-answer', created: 1e20 })
    const before = Date.now()
    const summary = await generate()
    expect(summary).toMatchObject({ generated: 1, failed: [] })
    expect(mock.requests).toBe(1)
    const { meta } = await storedMeta()
    expect(Date.parse(String(meta.created))).toBeGreaterThanOrEqual(before - 1_000)
    const warnings = lines.filter((l) => l.startsWith('warn'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('created: 100000000000000000000')
    expect(warnings[0]).toContain('the image is kept and dated now')
  })
})
