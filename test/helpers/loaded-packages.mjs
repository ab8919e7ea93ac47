// Run by test/module-loading.test.ts in a fresh node process: prints, as one JSON line, the
// packages under node_modules that were loaded while it did one thing with the built core. (Loaded,
// not resolved: from Node 24 the hooks see `require.resolve` too, which reads no module.)
//
//   node loaded-packages.mjs runtime          import @flux-images/core/runtime, nothing else
//   node loaded-packages.mjs build <root>     what a build does: generate (optimize) + image()
import { registerHooks } from 'node:module'

const packages = new Set()
registerHooks({
  load(url, context, next) {
    const match = /\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(url)
    if (match) packages.add(match[1])
    return next(url, context)
  },
})

const [what, root] = process.argv.slice(2)
const dist = new URL('../../packages/core/dist/', import.meta.url)
const out = {}
if (what === 'runtime') {
  await import(new URL('runtime.js', dist).href)
} else {
  const { createFlux } = await import(new URL('create-flux.js', dist).href)
  const quiet = { info() {}, warn() {}, error() {} }
  const flux = createFlux({ root, logger: quiet, image: { widths: [64], placeholder: 'none' } })
  const summary = await flux.generate({ optimize: true })
  const report = await flux.scan()
  const images = await Promise.all(report.items.map((item) => flux.image({ request: item.request })))
  await flux.close()
  Object.assign(out, {
    generated: summary.generated,
    cached: summary.cached,
    failed: summary.failed.length,
    files: images.reduce((n, image) => n + image.files.length, 0),
  })
}
console.log(JSON.stringify({ ...out, packages: [...packages].sort() }))
