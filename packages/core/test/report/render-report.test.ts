import { describe, expect, it } from 'vitest'
import { scanSource } from '../../src/directives/index.js'
import { escapeHtml } from '../../src/optimize/escape-html.js'
import type { ReportData, ReportEntry } from '../../src/report/collect-report.js'
import { formatBytes, renderReport } from '../../src/report/render-report.js'

const KEY = 'sk-flux-render-test-91c2-DO-NOT-LEAK'
const TRICKY = `A "quoted" <b>bold</b> & <img src=x onerror=alert(1)> it's caf\u00e9 \u2615 \u65e5\u672c\u8a9e\nline two`
// The renderer embeds whatever data URI it is given; it never decodes it.
const PIXEL = 'data:image/webp;base64,UklGRhoAAABXRUJQ'

function entry(overrides: Partial<ReportEntry> & Pick<ReportEntry, 'key' | 'status'>): ReportEntry {
  return {
    stored: 'original',
    request: {
      model: 'flux-1.1-pro',
      prompt: `prompt of ${overrides.key}`,
      size: '1024x1024',
      quality: 'standard',
    },
    image: { width: 1024, height: 1024, format: 'png', bytes: 2048, provider: 'openai-images' },
    created: '2025-03-04T05:06:07.000Z',
    usedAt: [{ location: { file: 'posts/a.md', line: 3, column: 6 }, kind: 'markdown' }],
    thumbnail: { src: PIXEL, width: 320, height: 320 },
    ...overrides,
  }
}

function report(entries: ReportEntry[], extra: Partial<ReportData> = {}): ReportData {
  return {
    project: 'blog',
    generatedAt: '2025-03-04T10:00:00.000Z',
    entries,
    missing: [],
    totals: {
      originals: { count: 0, bytes: 0 },
      placeholders: { count: 0, bytes: 0 },
      charged: { images: 0, credits: 0, usd: 0 },
    },
    scanProblems: [],
    ...extra,
  }
}

/** The cards of a page, each as its opening tag's status and its whole markup. */
function cards(html: string): { status: string; html: string }[] {
  return [...html.matchAll(/<article class="card[^"]*" data-status="([a-z]+)"[\s\S]*?<\/article>/g)].map(
    (m) => ({ status: m[1] ?? '', html: m[0] }),
  )
}

/** Undoes escapeHtml, to compare an attribute or text with what was escaped. */
function unescapeHtml(text: string): string {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&')
}

describe('renderReport', () => {
  describe('costs', () => {
    it('shows each image’s recorded cost and the total charged; none for images without one', () => {
      const html = renderReport(
        report(
          [
            entry({
              key: 'aaaaaaaaaaaaaaaaaaaaaaaa',
              status: 'real',
              image: {
                width: 64,
                height: 64,
                format: 'png',
                bytes: 10,
                provider: 'bfl',
                charged: { credits: 4.5, usd: 0.045 },
              },
            }),
            entry({ key: 'bbbbbbbbbbbbbbbbbbbbbbbb', status: 'real' }),
          ],
          {
            totals: {
              originals: { count: 2, bytes: 2058 },
              placeholders: { count: 0, bytes: 0 },
              charged: { images: 1, credits: 4.5, usd: 0.045 },
            },
          },
        ),
      )
      expect(html.match(/<dt>Cost<\/dt>/g)).toHaveLength(1)
      expect(html).toContain('<span class="cost">$0.045</span> <span class="dim">· 4.5 credits</span>')
      expect(html).toContain('charged <span class="total-charged">$0.045</span> (4.5 credits, 1 image)')
    })
  })

  describe('an empty cache', () => {
    it('is a complete page that says so, with zero counts and nothing to fetch', () => {
      const html = renderReport(report([]))
      expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true)
      expect(html).toContain('<meta charset="utf-8">')
      expect(html).toContain("default-src 'none'; img-src data:; style-src 'unsafe-inline'")
      expect(html).toContain('The cache is empty')
      expect(html).toMatch(/<span class="n">0<\/span> real/)
      expect(html).toMatch(/<span class="n">0<\/span> unused/)
      expect(html).not.toMatch(/<script|(?:src|href)="(?!data:|#)|url\(/i)
      expect(cards(html)).toEqual([])
    })
  })

  describe('statuses', () => {
    const html = renderReport(
      report(
        [
          entry({ key: 'aaaaaaaaaaaaaaaaaaaaaaa1', status: 'real' }),
          entry({
            key: 'aaaaaaaaaaaaaaaaaaaaaaa2',
            status: 'placeholder',
            stored: 'placeholder',
            image: { width: 1024, height: 1024, format: 'png', bytes: 100, provider: 'placeholder' },
          }),
          entry({
            key: 'aaaaaaaaaaaaaaaaaaaaaaa3',
            status: 'moderated',
            stored: 'refusal',
            image: undefined,
            thumbnail: undefined,
            refusal: 'Your request was rejected by the safety system.',
          }),
          entry({ key: 'aaaaaaaaaaaaaaaaaaaaaaa4', status: 'unused', usedAt: [] }),
          entry({ key: 'aaaaaaaaaaaaaaaaaaaaaaa5', status: 'unused', stored: 'refusal', usedAt: [] }),
        ],
        {
          missing: [
            {
              key: 'bbbbbbbbbbbbbbbbbbbbbbbb',
              request: { model: 'flux-dev', prompt: 'not made yet', size: '1344x768', quality: 'hd' },
              usedAt: [{ location: { file: 'c.md', line: 9, column: 1 }, kind: 'frontmatter' }],
            },
          ],
          totals: {
            originals: { count: 2, bytes: 3 * 1024 * 1024 },
            placeholders: { count: 1, bytes: 512 },
            charged: { images: 0, credits: 0, usd: 0 },
          },
        },
      ),
    )

    it('puts one card per entry in a section per status, in a fixed order', () => {
      expect(cards(html).map((c) => c.status)).toEqual([
        'real',
        'placeholder',
        'moderated',
        'unused',
        'unused',
      ])
      const order = ['id="real"', 'id="placeholder"', 'id="moderated"', 'id="unused"', 'id="missing"'].map(
        (id) => html.indexOf(id),
      )
      expect(order.every((at, i) => at > 0 && (i === 0 || at > (order[i - 1] ?? 0)))).toBe(true)
      expect(html).not.toContain('id="corrupt"')
    })

    it('summarises counts per status and the bytes stored', () => {
      const counts = [...html.matchAll(/<li class="count status-([a-z]+)">.*?<span class="n">(\d+)<\/span>/g)]
      expect(counts.map((m) => `${m[2]} ${m[1]}`)).toEqual([
        '1 real',
        '1 placeholder',
        '1 moderated',
        '2 unused',
        '1 missing',
      ])
      expect(html).toContain(
        'originals 2 (3.0 MiB) · placeholders 1 (512 B) · total <span class="total-bytes">3.0 MiB</span>',
      )
    })

    it('shows a refusal instead of a thumbnail', () => {
      const moderated = cards(html).find((c) => c.status === 'moderated')?.html ?? ''
      expect(moderated).not.toContain('<img')
      expect(moderated).toContain('Refused by the gateway')
      expect(moderated).toContain('Your request was rejected by the safety system.')
      expect(moderated).toContain('actual none')
    })

    it('gives thumbnails their dimensions and the prompt as alt text', () => {
      const real = cards(html).find((c) => c.status === 'real')?.html ?? ''
      expect(real).toContain(
        `<img src="${PIXEL}" width="320" height="320" alt="prompt of aaaaaaaaaaaaaaaaaaaaaaa1">`,
      )
      expect(real).toContain('<code>posts/a.md:3:6</code>')
      expect(real).toContain('requested 1024x1024 · <span class="actual">actual 1024x1024</span>')
    })

    it('marks unused entries with what is stored and how to remove them', () => {
      const [first, second] = cards(html).filter((c) => c.status === 'unused')
      expect(first?.html).toContain('<span class="badge">original</span>')
      expect(second?.html).toContain('<span class="badge">refusal</span>')
      expect(first?.html).toContain('<code>flux-images prune</code> would remove it')
    })

    it('lists missing images with where they are used', () => {
      const missing = html.slice(html.indexOf('id="missing"'))
      expect(missing).toContain('not made yet')
      expect(missing).toContain('<code>c.md:9:1</code>')
      expect(missing).toContain('flux-dev · 1344x768')
    })
  })

  describe('corrupt entries and scan problems', () => {
    it('shows a corrupt section, the problem, and a warning about unreadable files', () => {
      const html = renderReport(
        report(
          [
            entry({
              key: 'cccccccccccccccccccccccc',
              status: 'corrupt',
              thumbnail: undefined,
              problem: 'The stored image does not match its metadata (corrupt): it is never served.',
            }),
          ],
          { scanProblems: ['[flux] posts/x.md:1:1: The file could not be read: EACCES'] },
        ),
      )
      expect(cards(html).map((c) => c.status)).toEqual(['corrupt'])
      expect(html).toMatch(/<span class="n">1<\/span> corrupt/)
      expect(html).toContain('<p class="problem">The stored image does not match its metadata')
      expect(html).toContain('No preview')
      expect(html).toContain('1 file(s) could not be scanned')
      expect(html).toContain('posts/x.md:1:1: The file could not be read: EACCES')
    })

    it('flags an actual size that differs from the requested one', () => {
      const html = renderReport(
        report([
          entry({
            key: 'dddddddddddddddddddddddd',
            status: 'real',
            image: { width: 1024, height: 1008, format: 'webp', bytes: 10, provider: 'x' },
          }),
        ]),
      )
      expect(html).toContain('<span class="actual mismatch">actual 1024x1008</span>')
    })
  })

  describe('untrusted text', () => {
    const html = renderReport(
      report(
        [
          entry({
            key: 'eeeeeeeeeeeeeeeeeeeeeeee',
            status: 'real',
            request: { model: 'flux-pro', prompt: TRICKY, size: '1024x1024', quality: 'hd', seed: 7 },
            revisedPrompt: `revised: ${TRICKY}`,
            usedAt: [
              {
                location: { file: 'posts/<b>.md', line: 1, column: 1 },
                kind: 'frontmatter',
                alt: '"alt" <i>&',
              },
            ],
          }),
        ],
        { project: '<my & "blog">' },
      ),
    )

    it('escapes prompts, revised prompts, alt texts, paths and the project name', () => {
      expect(html).not.toContain('<b>')
      expect(html).not.toContain('<i>')
      expect(html).not.toContain('<img src=x')
      expect(html).toContain(
        'A &quot;quoted&quot; &lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt; it&#39;s',
      )
      expect(html).toContain('&quot;alt&quot; &lt;i&gt;&amp;')
      expect(html).toContain('posts/&lt;b&gt;.md:1:1')
      expect(html).toContain('<title>flux-images report: &lt;my &amp; &quot;blog&quot;&gt;</title>')
    })

    it('is never read as directives when a later scan finds the report in the project', () => {
      const hostile = renderReport(
        report([
          entry({
            key: 'eeeeeeeeeeeeeeeeeeeeeee1',
            status: 'real',
            request: {
              model: 'flux-pro',
              prompt: '<img src="flux:injected"> ![x](flux:md) <FluxImage prompt="c" />',
              size: '1024x1024',
              quality: 'standard',
            },
          }),
        ]),
      )
      expect(scanSource('flux-report.html', hostile)).toEqual({ directives: [], errors: [] })
    })

    it('keeps the prompt intact, Unicode and line break included, in text and in alt', () => {
      const alt = /<img [^>]*alt="([^"]*)">/.exec(html)?.[1]
      expect(alt && unescapeHtml(alt)).toBe(TRICKY)
      const prompt = /<p class="prompt">([^<]*)<\/p>/.exec(html)?.[1]
      expect(prompt && unescapeHtml(prompt)).toBe(TRICKY)
      expect(html).toContain('caf\u00e9 \u2615 \u65e5\u672c\u8a9e\nline two')
      expect(html).toContain('revised: A &quot;quoted&quot;')
      expect(html).toContain('flux-pro <span class="dim">· hd · seed 7</span>')
    })
  })

  describe('the API key', () => {
    it('never appears, wherever a gateway or a user put it', () => {
      const html = renderReport(
        report(
          [
            entry({
              key: 'ffffffffffffffffffffffff',
              status: 'moderated',
              stored: 'refusal',
              thumbnail: undefined,
              request: { model: 'flux-pro', prompt: `draw ${KEY}`, size: '1024x1024', quality: 'standard' },
              refusal: `Refused (received Authorization: Bearer ${KEY})`,
            }),
            entry({ key: 'fffffffffffffffffffffff0', status: 'real', revisedPrompt: `echo ${KEY}` }),
          ],
          { scanProblems: [`[flux] a.md:1:1: ${KEY}`], project: KEY },
        ),
        { secret: KEY },
      )
      expect(html).not.toContain(KEY)
      expect(html).not.toContain(KEY.slice(0, 20))
      expect(html).toContain('Bearer [redacted]')
      expect(html).toContain('draw [redacted]')
    })

    it('drops any bearer token even without the secret', () => {
      const html = renderReport(
        report([
          entry({ key: 'ffffffffffffffffffffff01', status: 'real', revisedPrompt: 'Bearer abc.def-123' }),
        ]),
      )
      expect(html).not.toContain('abc.def-123')
    })
  })

  describe('dates', () => {
    it('shows ISO times in UTC to the second, and anything else as escaped text', () => {
      const html = renderReport(
        report([
          entry({ key: 'aaaaaaaaaaaaaaaaaaaaaab1', status: 'real', created: '2025-03-04T07:06:07+02:00' }),
          entry({ key: 'aaaaaaaaaaaaaaaaaaaaaab2', status: 'real', created: 'yesterday <3' }),
        ]),
      )
      expect(html).toContain('<time datetime="2025-03-04T05:06:07.000Z">2025-03-04 05:06:07 UTC</time>')
      expect(html).toContain('<time datetime="2025-03-04T10:00:00.000Z">2025-03-04 10:00:00 UTC</time>')
      expect(html).toContain('yesterday &lt;3')
    })
  })
})

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
  })
  it('leaves other text, tabs and line breaks alone', () => {
    expect(escapeHtml('caf\u00e9\t\u{1F600}\r\n\u65e5')).toBe('caf\u00e9\t\u{1F600}\r\n\u65e5')
  })
  it('replaces control characters and lone surrogates, which HTML cannot carry', () => {
    expect(escapeHtml('a\u0000b\u0007c\u007fd\u0085e\ud800f')).toBe('a\uFFFDb\uFFFDc\uFFFDd\uFFFDe\uFFFDf')
  })
  it('is empty for empty text', () => {
    expect(escapeHtml('')).toBe('')
  })
})

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect([0, 1023, 1024, 1536, 10 * 1024, 5 * 1024 ** 2, 3 * 1024 ** 3].map(formatBytes)).toEqual([
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '10 KiB',
      '5.0 MiB',
      '3.0 GiB',
    ])
  })
})
