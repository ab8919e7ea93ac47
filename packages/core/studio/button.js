// flux-images in `vite dev`: a small button that opens the studio for this page, with the images
// it shows (their URLs, and the width each is shown at).
const BASE = '%BASE%'

const button = document.createElement('button')
button.type = 'button'
button.textContent = 'flux'
button.title = 'Open the flux-images studio for this page'
button.dataset.fluxStudio = ''
button.style.cssText =
  'position:fixed;left:12px;bottom:12px;z-index:2147483647;font:600 12px system-ui,sans-serif;padding:6px 10px;border:0;border-radius:14px;background:#1d1d1f;color:#fff;opacity:.75;cursor:pointer'
button.addEventListener('click', () => {
  const images = [...document.querySelectorAll('img')].map((img) => ({
    url: new URL(img.currentSrc || img.src, location.href).pathname,
    width: img.clientWidth,
  }))
  const state = encodeURIComponent(JSON.stringify({ page: location.pathname, images }))
  window.open(`${BASE}__flux/#${state}`, 'flux-studio')
})
document.body.append(button)
