// The curve as an SVG, from measured rows: two panels sharing the x axis (encode CPU time per
// image, log scale), size on the left, SSIM on the right. One line per AVIF quality through its
// efforts (labelled), one line each for WebP and JPEG through their qualities; rings mark the
// peers' setting (sharp's AVIF default) and ours.
import { writeFile } from 'node:fs/promises'

const W = 460
const H = 340
const M = { left: 62, right: 14, top: 40, bottom: 46 }
const COLORS = ['#1b6ca8', '#2a9d8f', '#e9a23b', '#c8553d', '#6a4c93', '#444444']

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;')

function series(rows) {
  const out = []
  const avif = rows.filter((r) => r.format === 'avif')
  for (const q of [...new Set(avif.map((r) => r.quality))]) {
    out.push({
      name: `AVIF q${q}`,
      points: avif.filter((r) => r.quality === q).map((r) => ({ ...r, label: `e${r.effort}` })),
    })
  }
  for (const format of ['webp', 'jpeg']) {
    const points = rows.filter((r) => r.format === format).map((r) => ({ ...r, label: `q${r.quality}` }))
    if (points.length)
      out.push({ name: format === 'webp' ? 'WebP e4' : 'JPEG mozjpeg', points, dashed: true })
  }
  return out
}

function panel(all, { x0, y, yLabel, yFormat, marks }) {
  const xs = all.flatMap((s) => s.points.map((p) => Math.log10(p.cpuMs)))
  const ys = all.flatMap((s) => s.points.map((p) => y(p)))
  const [xMin, xMax] = [Math.min(...xs) - 0.05, Math.max(...xs) + 0.05]
  const pad = (Math.max(...ys) - Math.min(...ys)) * 0.06 || 0.001
  const [yMin, yMax] = [Math.min(...ys) - pad, Math.max(...ys) + pad]
  const px = (v) => x0 + M.left + ((Math.log10(v) - xMin) / (xMax - xMin)) * (W - M.left - M.right)
  const py = (v) => M.top + (1 - (v - yMin) / (yMax - yMin)) * (H - M.top - M.bottom)
  const parts = []
  parts.push(
    `<rect x="${x0 + M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#999"/>`,
  )
  for (const t of [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]) {
    const l = Math.log10(t)
    if (l < xMin || l > xMax) continue
    parts.push(
      `<line x1="${px(t)}" x2="${px(t)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`,
      `<text x="${px(t)}" y="${H - M.bottom + 14}" font-size="10" text-anchor="middle">${t >= 1000 ? `${t / 1000} s` : `${t} ms`}</text>`,
    )
  }
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((yMax - yMin) * i) / 4
    parts.push(
      `<text x="${x0 + M.left - 4}" y="${py(v) + 3}" font-size="10" text-anchor="end">${yFormat(v)}</text>`,
    )
  }
  parts.push(
    `<text x="${x0 + M.left + (W - M.left - M.right) / 2}" y="${H - 10}" font-size="11" text-anchor="middle">encode CPU time per image (log)</text>`,
    `<text transform="translate(${x0 + 14} ${M.top + (H - M.top - M.bottom) / 2}) rotate(-90)" font-size="11" text-anchor="middle">${esc(yLabel)}</text>`,
  )
  all.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const pts = s.points.map((p) => `${px(p.cpuMs).toFixed(1)},${py(y(p)).toFixed(1)}`).join(' ')
    parts.push(
      `<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
    )
    for (const p of s.points) {
      parts.push(
        `<circle cx="${px(p.cpuMs).toFixed(1)}" cy="${py(y(p)).toFixed(1)}" r="2.5" fill="${color}"/>`,
        `<text x="${(px(p.cpuMs) + 3).toFixed(1)}" y="${(py(y(p)) - 4).toFixed(1)}" font-size="8" fill="${color}">${p.label}</text>`,
      )
    }
  })
  for (const mark of marks) {
    const p = mark.point
    if (!p) continue
    parts.push(
      `<circle cx="${px(p.cpuMs).toFixed(1)}" cy="${py(y(p)).toFixed(1)}" r="7" fill="none" stroke="${mark.color}" stroke-width="2"/>`,
    )
  }
  return parts.join('\n')
}

/**
 * Writes the plot of `curve` ({ width, images, rows }) to `path`. `marks`: settings to ring, as
 * `{ label, color, match: { format, quality, effort } }`.
 */
export async function writeCurvePlot(path, curve, { title = '', marks = [] } = {}) {
  const all = series(curve.rows)
  const found = marks.map((m) => ({
    ...m,
    point: curve.rows.find((r) => Object.entries(m.match).every(([k, v]) => r[k] === v)),
  }))
  const items = [
    ...all.map((s, i) => ({ name: s.name, color: COLORS[i % COLORS.length], dashed: s.dashed })),
    ...found.map((m) => ({ name: m.label, color: m.color, ring: true })),
  ]
  const perRow = 4
  const rows = Math.ceil(items.length / perRow)
  const legend = items
    .map((item, i) => {
      const lx = 70 + (i % perRow) * 200
      const ly = H + 14 + Math.floor(i / perRow) * 18
      const sym = item.ring
        ? `<circle cx="${lx + 8}" cy="${ly}" r="6" fill="none" stroke="${item.color}" stroke-width="2"/>`
        : `<line x1="${lx}" x2="${lx + 16}" y1="${ly}" y2="${ly}" stroke="${item.color}" stroke-width="2"${item.dashed ? ' stroke-dasharray="4 3"' : ''}/>`
      return `${sym}<text x="${lx + 20}" y="${ly + 4}" font-size="10">${esc(item.name)}</text>`
    })
    .join('\n')
  const height = H + 14 + rows * 18
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${height}" viewBox="0 0 ${2 * W} ${height}" font-family="sans-serif">`,
    `<title>Encoder settings: CPU time per image against size and against SSIM (${esc(title)})</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${W}" y="18" font-size="13" text-anchor="middle">Encoder settings, ${curve.images} photo-like sources at ${curve.width} px (${esc(title)}): eN = AVIF effort, qN = quality</text>`,
    panel(all, {
      x0: 0,
      y: (p) => p.kb,
      yLabel: 'size per image (KB)',
      yFormat: (v) => v.toFixed(0),
      marks: found,
    }),
    panel(all, {
      x0: W,
      y: (p) => p.ssim,
      yLabel: 'SSIM vs original at 960 px',
      yFormat: (v) => v.toFixed(4),
      marks: found,
    }),
    legend,
    '</svg>',
    '',
  ].join('\n')
  await writeFile(path, svg)
}
