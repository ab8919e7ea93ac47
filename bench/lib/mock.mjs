// The repository's mock FLUX gateway (test/mock-gateway, TypeScript) loaded into a benchmark, and
// an image source that serves given bytes per prompt instead of the mock's own colour grids.
//
//   const { createMockGateway, createImageMaker } = await loadMockGateway()
//   const gateway = await createMockGateway({ apiKey: BENCH_KEY, latencyMs: 400, images: servePhotos(map) })
//   gateway.requests, gateway.maxInFlight, gateway.reset(), await gateway.close()
//
// The mock runs in the benchmark's own process: its work (answering, base64 and JSON of the
// served bytes) shares the machine with what is measured, as a remote gateway's would not. Served
// bytes are made before the measurement starts, so no image is rendered while a run is timed.
import { fileURLToPath } from 'node:url'

/** A fake key for the mock: never a real one. */
export const BENCH_KEY = 'sk-flux-bench-not-a-real-key'

let loaded

/**
 * The mock gateway module (`createMockGateway`, `DEFAULT_SIZES`...) and its image maker
 * (`createImageMaker`, the default source of pictures), compiled by Vite once per process.
 */
export function loadMockGateway() {
  loaded ??= import('vite').then(async ({ runnerImport }) => {
    const load = async (file) => {
      const entry = fileURLToPath(new URL(`../../test/mock-gateway/${file}`, import.meta.url))
      return (await runnerImport(entry, { configFile: false, logLevel: 'silent' })).module
    }
    const [index, images] = await Promise.all([load('index.ts'), load('images.ts')])
    return { ...index, createImageMaker: images.createImageMaker }
  })
  return loaded
}

/**
 * An image source for the mock's `images` option: the PNG bytes given for each prompt. A prompt
 * without bytes is a bug of the benchmark, answered as a mock failure (500).
 * @param {Map<string, { bytes: Buffer, width: number, height: number }>} byPrompt
 */
export function servePhotos(byPrompt) {
  return {
    async make({ prompt }) {
      const image = byPrompt.get(prompt)
      if (!image) throw new Error(`bench: no image for prompt ${JSON.stringify(prompt)}`)
      return image
    },
  }
}

/** Environment for a CLI or build process talking to the mock: nothing inherited but PATH and HOME. */
export function benchEnv(gateway, extra = {}) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    CI: '1',
    ASTRO_TELEMETRY_DISABLED: '1',
    ...(gateway && { FLUX_API_KEY: BENCH_KEY, FLUX_BASE_URL: gateway.url }),
    ...extra,
  }
}
