// The flux-images studio in Astro's dev toolbar: the studio page (`<base>__flux/`, served by the
// integration's Vite plugin) in a window, for the images of the page open now. It reads and acts
// as that page does: read-only requests, and actions over the HMR socket only. (A toolbar app is
// an object with `init`; `defineToolbarApp` only types it.)
export default {
  init(canvas, app) {
    const panel = document.createElement('astro-dev-toolbar-window')
    panel.style.cssText = 'width: min(1100px, 92vw); height: min(760px, 80vh); padding: 0'
    const frame = document.createElement('iframe')
    frame.title = 'flux-images studio'
    frame.style.cssText = 'width: 100%; height: 100%; border: 0; border-radius: inherit; background: #fff'
    panel.append(frame)
    canvas.append(panel)
    app.onToggled(({ state }) => {
      if (!state) return
      const images = [...document.querySelectorAll('img')].map((img) => ({
        url: new URL(img.currentSrc || img.src, location.href).pathname,
        width: img.clientWidth,
      }))
      const page = encodeURIComponent(JSON.stringify({ page: location.pathname, images }))
      frame.src = `${import.meta.env.BASE_URL.replace(/\/?$/, '/')}__flux/#${page}`
    })
  },
}
