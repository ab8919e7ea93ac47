import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './helpers/browser.js'
import { cliEnv, makeProject, runCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const KEY = 'sk-flux-report-4b8e1d-DO-NOT-LEAK'

// Everything a prompt can carry that would break naive HTML: quotes, markup, entities, a line
// break, and characters outside ASCII (composed, emoji, CJK).
const TRICKY =
  'A "quoted" <b>bold</b> & <script>alert(1)</script> caf\u00e9 \u2615 \u65e5\u672c\u8a9e\nsecond line'
const REAL_WIDE = 'a lighthouse at dawn, watercolor'
const REAL_TALL = 'a tall cypress in the wind'
const REFUSED = 'a prompt the safety system refuses'
const PLACEHOLDER = 'a harbour drawn offline'
const UNUSED = 'an image nobody uses any more'
const MISSING = 'an image never generated'

let gateway: MockGateway
let browser: Browser | undefined
let cleanup: (() => Promise<void>) | undefined

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await browser?.close()
  await gateway?.close()
  await cleanup?.()
})

describe('flux-images report in Chromium', () => {
  it('opens offline with no error, decodes every thumbnail, shows each status and escapes prompts', async () => {
    browser = await launchChromium()
    const project = await makeProject({ 'p.md': `![Harbour](flux:${PLACEHOLDER})\n` })
    cleanup = project.cleanup
    const { root } = project
    const withKey = cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url })

    // 1. Without a key: a placeholder only.
    expect((await runCli(['generate'], { cwd: root, env: cliEnv() })).code).toBe(0)
    // 2. With a key, while p.md is away (it would be replaced): real images and a refusal.
    await rm(join(root, 'p.md'))
    await writeFile(
      join(root, 'a.md'),
      [
        '---',
        'cover:',
        `  flux: ${JSON.stringify(TRICKY)}`,
        '  alt: Cover "with" <quotes>',
        '---',
        '',
        `![Lighthouse](<flux:${REAL_WIDE}?size=1536x1024>)`,
        '',
        `![Cypress](<flux:${REAL_TALL}?size=768x1344>)`,
        '',
        `![Again](<flux:${REAL_WIDE}?size=1536x1024>)`,
        '',
      ].join('\n'),
    )
    await writeFile(join(root, 'b.md'), `![Refused](flux:${REFUSED})\n`)
    await writeFile(join(root, 'c.md'), `![Old](flux:${UNUSED})\n`)
    gateway.fault = ({ body }) => (body.prompt === REFUSED ? { type: 'moderation' } : undefined)
    const generated = await runCli(['generate'], { cwd: root, env: withKey })
    expect(generated.stderr).toMatch(/4 generated/)
    expect(generated.stderr).toMatch(/safety system/)
    // 3. The placeholder is used again, c.md's image no longer, and one image is new.
    await writeFile(join(root, 'p.md'), `![Harbour](flux:${PLACEHOLDER})\n`)
    await rm(join(root, 'c.md'))
    await writeFile(join(root, 'e.md'), `# New\n\n![New](flux:${MISSING})\n`)

    const run = await runCli(['report'], { cwd: root, env: withKey })
    expect(run.stderr).toBe(
      '[flux] Report of 6 cache entries: 3 real, 1 moderated, 1 placeholder, 1 unused; 1 missing.\n',
    )
    expect(run.code).toBe(0)
    const file = join(root, 'flux-report.html')
    expect(run.stdout).toBe(`${file}\n`)
    const html = await readFile(file, 'utf8')
    expect(html).not.toContain(KEY)
    expect(html).not.toMatch(/(?:src|href)="(?!data:|#)/)
    const elsewhere = await runCli(['report', '--out', 'out/cache.html'], { cwd: root, env: withKey })
    expect(elsewhere.stdout).toBe(`${join(root, 'out', 'cache.html')}\n`)
    expect((await readFile(join(root, 'out', 'cache.html'), 'utf8')).match(/<article /g)).toHaveLength(6)

    const page = await browser.newPage()
    const problems: string[] = []
    const requests: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`)
    })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`))
    page.on('request', (r) => requests.push(r.url().slice(0, 60)))
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' })

    const images = await page.$$eval('img', (imgs) =>
      imgs.map((img) => ({
        ok: img.complete && img.naturalWidth > 0,
        natural: [img.naturalWidth, img.naturalHeight],
        attrs: [Number(img.getAttribute('width')), Number(img.getAttribute('height'))],
        alt: img.alt,
      })),
    )
    const cards = await page.$$eval('article.card', (els) =>
      els.map((el) => ({
        status: el.getAttribute('data-status'),
        prompt: el.querySelector('.prompt')?.textContent,
        markupInPrompt: el.querySelector('.prompt *') !== null,
        img: el.querySelector('img')?.alt,
        refusal: el.querySelector('.refusal')?.textContent,
        used: [...el.querySelectorAll('.usage code')].map((c) => c.textContent),
        alts: [...el.querySelectorAll('.usage .text')].map((c) => c.textContent),
        created: el.querySelector('time')?.getAttribute('datetime'),
        text: el.textContent,
      })),
    )
    const counts = await page.$$eval('.counts .count', (els) => els.map((el) => el.textContent?.trim()))
    const missing = await page.$$eval('#missing li .prompt', (els) => els.map((el) => el.textContent))
    const scripts = await page.$$eval('script', (els) => els.length)
    await page.close()

    expect(problems).toEqual([])
    expect(requests.every((url) => url.startsWith('file:') || url.startsWith('data:'))).toBe(true)
    expect(scripts).toBe(0)

    // Thumbnails: the three real images, the placeholder and the unused one, all decoded, at most
    // 320 px on a side, with the declared dimensions.
    expect(images).toHaveLength(5)
    for (const img of images) {
      expect(img.ok).toBe(true)
      expect(img.natural).toEqual(img.attrs)
      expect(Math.max(...img.natural)).toBeLessThanOrEqual(320)
    }

    expect(cards.map((c) => [c.status, c.prompt])).toEqual([
      ['real', TRICKY],
      ['real', REAL_WIDE],
      ['real', REAL_TALL],
      ['placeholder', PLACEHOLDER],
      ['moderated', REFUSED],
      ['unused', UNUSED],
    ])
    expect(counts).toEqual(['3 real', '1 placeholder', '1 moderated', '1 unused', '1 missing'])
    expect(missing).toEqual([MISSING])

    const [tricky, wide, tall, placeholder, refused, unused] = cards
    // The tricky prompt is text, in the card and in the alt attribute, never markup.
    expect(tricky?.markupInPrompt).toBe(false)
    expect(tricky?.img).toBe(TRICKY)
    expect(tricky?.used).toEqual(['a.md:3:3'])
    expect(tricky?.alts).toEqual(['Cover "with" <quotes>'])
    expect(wide?.used).toEqual(['a.md:7:16', 'a.md:11:11'])
    expect(wide?.text).toMatch(/requested 1536x1024 · actual 1536x1024/)
    expect(wide?.text).toMatch(/flux-1\.1-pro/)
    expect(wide?.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(tall?.text).toMatch(/requested 768x1344 · actual 768x1344/)
    // A refusal shows the gateway's message instead of an image.
    expect(refused?.img).toBeUndefined()
    expect(refused?.refusal).toMatch(/Refused by the gateway.*safety system/s)
    expect(refused?.used).toEqual(['b.md:1:12'])
    expect(placeholder?.text).toMatch(/placeholder/)
    expect(unused?.used).toEqual([])
    expect(unused?.text).toMatch(/flux-images prune/)
  }, 30_000)
})
