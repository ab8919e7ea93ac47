import { formatLocation } from '../errors.js'
import { escapeHtml } from '../optimize/escape-html.js'
import { redact } from '../redact.js'
import type {
  ReportCandidate,
  ReportData,
  ReportEntry,
  ReportMissing,
  ReportStatus,
  ReportUsage,
} from './collect-report.js'
import { REPORT_CSS } from './report-css.js'

/** Sections in page order, with their headings and what they mean (`note` is trusted HTML). */
const SECTIONS: readonly { status: ReportStatus; title: string; note: string }[] = [
  { status: 'real', title: 'Real', note: 'Generated originals used by the site.' },
  {
    status: 'placeholder',
    title: 'Placeholder',
    note: 'Only a local placeholder exists: <code>flux-images generate</code> with FLUX_API_KEY set replaces them.',
  },
  {
    status: 'moderated',
    title: 'Moderated',
    note: 'The gateway refused these prompts; the refusal is remembered. Rephrase them, or retry with <code>--force</code>.',
  },
  {
    status: 'corrupt',
    title: 'Corrupt',
    note: 'Stored files fail their integrity check; <code>flux-images generate</code> makes them again.',
  },
  {
    status: 'unused',
    title: 'Unused',
    note: 'In the cache but referenced by no directive: <code>flux-images prune</code> removes them.',
  },
]

// Offline by construction: the page may load nothing but inline styles and data: images.
const CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

export interface RenderReportOptions {
  /** Removed from every text written into the page (with any `Bearer <token>`). */
  secret?: string | undefined
}

/**
 * The report as one self-contained HTML page: inline CSS, thumbnails as `data:` URIs, no script,
 * nothing fetched. Every text from the cache or the sources is escaped, and the secret redacted.
 */
export function renderReport(data: ReportData, { secret }: RenderReportOptions = {}): string {
  const t = (value: string) => escapeHtml(redact(value, secret))
  const counts = new Map<ReportStatus, number>()
  for (const e of data.entries) counts.set(e.status, (counts.get(e.status) ?? 0) + 1)
  const { originals, placeholders, charged } = data.totals

  const summary = SECTIONS.filter((s) => s.status !== 'corrupt' || counts.get('corrupt'))
    .map(
      (s) =>
        `<li class="count status-${s.status}"><a href="#${s.status}"><span class="n">${counts.get(s.status) ?? 0}</span> ${s.status}</a></li>`,
    )
    .join('\n')
  const sections = SECTIONS.flatMap((s) => {
    const cards = data.entries.filter((e) => e.status === s.status)
    if (cards.length === 0) return []
    return [
      `<section id="${s.status}" aria-labelledby="h-${s.status}">
<h2 id="h-${s.status}">${s.title} <span class="n">(${cards.length})</span></h2>
<p class="note">${s.note}</p>
<div class="grid">
${cards.map((e) => renderCard(e, t)).join('\n')}
</div>
</section>`,
    ]
  })

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="generator" content="flux-images">
<title>flux-images report: ${t(data.project)}</title>
<link rel="icon" href="data:,">
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>flux-images report <span class="project">${t(data.project)}</span></h1>
<p class="meta">Made ${renderTime(data.generatedAt, t)} · ${data.entries.length} cache entr${data.entries.length === 1 ? 'y' : 'ies'} · originals ${originals.count} (${formatBytes(originals.bytes)}) · placeholders ${placeholders.count} (${formatBytes(placeholders.bytes)}) · total <span class="total-bytes">${formatBytes(originals.bytes + placeholders.bytes)}</span>${charged.images ? ` · charged <span class="total-charged">${formatUsd(charged.usd)}</span> (${charged.credits} credits, ${charged.images} image${charged.images === 1 ? '' : 's'})` : ''}</p>
<ul class="counts">
${summary}${data.missing.length ? `\n<li class="count status-missing"><a href="#missing"><span class="n">${data.missing.length}</span> missing</a></li>` : ''}
</ul>
${renderProblems(data.scanProblems, t)}</header>
<main>
${sections.join('\n') || '<p class="empty">The cache is empty: run <code>flux-images generate</code>.</p>'}
${renderMissing(data.missing, t)}</main>
</body>
</html>
`
}

function renderCard(e: ReportEntry, t: (s: string) => string): string {
  const prompt = e.request?.prompt
  const request = e.request
  const media = e.thumbnail
    ? `<img src="${e.thumbnail.src}" width="${e.thumbnail.width}" height="${e.thumbnail.height}" alt="${t(prompt ?? '')}">`
    : e.refusal !== undefined
      ? `<div class="refusal" role="note"><strong>Refused by the gateway</strong><p>${t(e.refusal)}</p></div>`
      : `<div class="no-preview">No preview</div>`
  const badges = [`<span class="badge status-${e.status}">${e.status}</span>`]
  if (e.status === 'unused' || e.status === 'corrupt') badges.push(`<span class="badge">${e.stored}</span>`)
  const rows: string[] = []
  if (e.image) {
    const revised =
      e.revisedPrompt === undefined
        ? '<span class="dim">none</span>'
        : e.revisedPrompt === prompt
          ? '<span class="dim">same as the prompt</span>'
          : `<span class="text">${t(e.revisedPrompt)}</span>`
    rows.push(row('Revised', revised))
  }
  if (request) {
    const extra = [request.quality, ...(request.seed === undefined ? [] : [`seed ${request.seed}`])]
    rows.push(row('Model', `${t(request.model)} <span class="dim">· ${t(extra.join(' · '))}</span>`))
  }
  const actual = e.image ? `${e.image.width}x${e.image.height}` : undefined
  if (request || actual) {
    const mismatch = request && actual && actual !== request.size ? ' mismatch' : ''
    rows.push(
      row(
        'Size',
        `requested ${t(request?.size ?? '?')} · <span class="actual${mismatch}">actual ${actual ?? 'none'}</span>`,
      ),
    )
  }
  if (e.image) {
    const { format, bytes, provider } = e.image
    rows.push(row('File', `${t(format)} · ${formatBytes(bytes)} <span class="dim">· ${t(provider)}</span>`))
    const { charged } = e.image
    if (charged) {
      rows.push(
        row(
          'Cost',
          `<span class="cost">${formatUsd(charged.usd)}</span> <span class="dim">· ${charged.credits} credits</span>`,
        ),
      )
    }
  }
  if (e.created !== undefined)
    rows.push(row(e.refusal !== undefined ? 'Refused' : 'Created', renderTime(e.created, t)))
  rows.push(row('Used at', renderUsage(e.usedAt, t)))
  if (e.candidates) rows.push(row('Candidates', renderCandidates(e.candidates, t)))
  rows.push(row('Key', `<code>${t(e.key)}</code>`))
  return `<article class="card status-${e.status}" data-status="${e.status}" data-key="${t(e.key)}">
<div class="media">${media}</div>
<div class="body">
<p class="badges">${badges.join(' ')}</p>
<p class="prompt">${prompt === undefined ? '<em>Unknown prompt (no readable metadata)</em>' : t(prompt)}</p>
${e.problem === undefined ? '' : `<p class="problem">${t(e.problem)}</p>\n`}<dl>
${rows.join('\n')}
</dl>
</div>
</article>`
}

/** A directive's own image and its candidates, small, the shown one marked (`flux-images pick` changes it). */
function renderCandidates(candidates: ReportCandidate[], t: (s: string) => string): string {
  const items = candidates.map(({ number, key, shown, thumbnail }) => {
    const image = thumbnail
      ? `<img src="${thumbnail.src}" width="${Math.round(thumbnail.width / 4)}" height="${Math.round(thumbnail.height / 4)}" alt="">`
      : ''
    return `<li class="candidate${shown ? ' shown' : ''}" data-candidate="${number}" title="${t(key)}">${image}<span>${number}${shown ? ' · shown' : ''}</span></li>`
  })
  return `<ul class="candidates">${items.join('')}</ul>`
}

function renderUsage(usedAt: ReportUsage[], t: (s: string) => string): string {
  if (usedAt.length === 0)
    return '<span class="dim">nowhere: <code>flux-images prune</code> would remove it</span>'
  const items = usedAt.map(
    (u) =>
      `<li><code>${t(formatLocation(u.location))}</code> <span class="dim">${t(u.kind)}${
        u.alt ? ` · alt “<span class="text">${t(u.alt)}</span>”` : ''
      }${
        u.preset
          ? ` · preset <code>${t(u.preset.name)}</code>, written “<span class="text">${t(u.preset.written)}</span>”`
          : ''
      }</span></li>`,
  )
  return `<ul class="usage">${items.join('')}</ul>`
}

function renderMissing(missing: ReportMissing[], t: (s: string) => string): string {
  if (missing.length === 0) return ''
  const items = missing.map(
    (m) =>
      `<li><p class="prompt">${t(m.request.prompt)}</p><p class="dim">${t(m.request.model)} · ${t(m.request.size)}</p>${renderUsage(m.usedAt, t)}</li>`,
  )
  return `<section id="missing" aria-labelledby="h-missing">
<h2 id="h-missing">Missing <span class="n">(${missing.length})</span></h2>
<p class="note">Referenced but not in the cache yet: <code>flux-images generate</code> makes them.</p>
<ul class="missing">${items.join('\n')}</ul>
</section>
`
}

function renderProblems(problems: string[], t: (s: string) => string): string {
  if (problems.length === 0) return ''
  return `<div class="problems" role="alert"><p><strong>${problems.length} file(s) could not be scanned</strong>: entries they use may be shown as unused.</p><ul>${problems
    .map((p) => `<li><span class="text">${t(p)}</span></li>`)
    .join('')}</ul></div>\n`
}

function row(term: string, value: string): string {
  return `<div class="row"><dt>${term}</dt><dd>${value}</dd></div>`
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)$/

/** An ISO time as `<time>`, shown in UTC to the second; anything else shown as is. */
function renderTime(iso: string, t: (s: string) => string): string {
  // Date() alone would read almost anything as some date: only ISO times with a zone are dates.
  const date = ISO_TIME.test(iso) ? new Date(iso) : undefined
  if (!date || Number.isNaN(date.getTime())) return t(iso)
  const utc = date.toISOString()
  return `<time datetime="${utc}">${utc.slice(0, 10)} ${utc.slice(11, 19)} UTC</time>`
}

/** Dollars to the tenth of a cent, as the summary shows them. */
function formatUsd(usd: number): string {
  return `$${usd.toFixed(3)}`
}

/** A byte count in B, KiB, MiB or GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}
