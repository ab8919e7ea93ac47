// flux-images in dev (`vite dev`, `astro dev`): a page whose pending images arrived while it was
// still loading missed the reload that announced them (its HMR socket was not connected yet), and
// would keep their placeholders. Once connected, it asks which of them have arrived and requests
// those again: the pending URLs serve the real images by then.
const PENDING = /^(.*\/)~([0-9a-f]{24})\/[^/]*$/
let round = 0

/** Every pending URL of the page's images on this server: { element, name, key, prefix }. */
function pendingUrls() {
  const found = []
  for (const element of document.querySelectorAll('img, source')) {
    for (const name of ['src', 'srcset']) {
      const value = element.getAttribute(name)
      if (!value) continue
      const urls = name === 'src' ? [value] : value.split(',').map((c) => c.trim().split(/\s+/)[0])
      for (const url of urls) {
        // Only this server's own: a URL the page holds must not choose where the client asks.
        const own = new URL(url, location.href)
        if (own.origin !== location.origin) continue
        const match = PENDING.exec(own.pathname)
        if (match) found.push({ element, name, key: match[2], prefix: match[1] })
      }
    }
  }
  return found
}

async function refreshArrived() {
  const found = pendingUrls()
  if (found.length === 0) return
  const keys = [...new Set(found.map((f) => f.key))]
  const response = await fetch(`${found[0].prefix}~arrived?keys=${keys.join(',')}`, { cache: 'no-store' })
  if (!response.ok) return
  const arrived = new Set(await response.json())
  if (arrived.size === 0) return
  round++
  const bust = (url) => {
    const match = PENDING.exec(url.split('?')[0])
    return match && arrived.has(match[2]) ? `${url.split('?')[0]}?flux=${round}` : url
  }
  for (const { element, name } of found) {
    const value = element.getAttribute(name) ?? ''
    const next =
      name === 'src'
        ? bust(value)
        : value
            .split(',')
            .map((candidate) => {
              const [url = '', ...rest] = candidate.trim().split(/\s+/)
              return [bust(url), ...rest].join(' ')
            })
            .join(', ')
    if (next !== value) element.setAttribute(name, next)
  }
}

if (import.meta.hot) {
  import.meta.hot.on('vite:ws:connect', () => void refreshArrived().catch(() => {}))
  void refreshArrived().catch(() => {})
}
