// The repository's S3-subset server (test/s3-server, TypeScript) loaded into a benchmark, the
// environment that points a build or the CLI at one of its buckets, and what a run sent to it.
//
//   const { createS3Server } = await loadS3Server()
//   const s3 = await createS3Server({ bucket: 'flux-bench' })
//   benchEnv(gateway, await remoteEnv(s3, 'blog'))   FLUX_REMOTE_* for s3://flux-bench/blog, signed
//   s3.reset(); ...a run...; s3Traffic(s3)         { requests: { GET, HEAD, PUT, DELETE, LIST }, downloadedBytes, ... }
//   s3.fault = () => ({ delayMs: 30 })                every request answered 30 ms late (a nearby region)
//
// Like the mock gateway (mock.mjs), the server runs in the benchmark's own process: its work shares
// the machine with what is measured, and loopback has no latency nor bandwidth limit unless a
// fault's `delayMs` adds one.
import { fileURLToPath } from 'node:url'

let loaded

/** The S3-subset server's module (`createS3Server`, `remoteOptionsFor`...), compiled by Vite once per process. */
export function loadS3Server() {
  loaded ??= import('vite').then(async ({ runnerImport }) => {
    const entry = fileURLToPath(new URL('../../test/s3-server/index.ts', import.meta.url))
    return (await runnerImport(entry, { configFile: false, logLevel: 'silent' })).module
  })
  return loaded
}

/** The `FLUX_REMOTE_*` variables that reach `server` under `prefix` (path-style, the test credentials). */
export async function remoteEnv(server, prefix) {
  const { remoteOptionsFor } = await loadS3Server()
  const o = remoteOptionsFor(server, prefix)
  const env = {
    FLUX_REMOTE_URL: o.url,
    FLUX_REMOTE_ENDPOINT: o.endpoint,
    FLUX_REMOTE_REGION: o.region,
    FLUX_REMOTE_ACCESS_KEY_ID: o.accessKeyId,
    FLUX_REMOTE_SECRET_ACCESS_KEY: o.secretAccessKey,
  }
  if (o.sessionToken) env.FLUX_REMOTE_SESSION_TOKEN = o.sessionToken
  return env
}

const OPS = ['GET', 'HEAD', 'PUT', 'DELETE', 'LIST']

/**
 * What the server received since its last reset: requests by op, how many were answered 2xx, and
 * the bytes of every GET answered 200 (sized from the stored object, which no run here rewrites
 * while it is being read) and of what PUTs left stored. `originalGets` counts GETs of images
 * under `originals/` (not their `.json`).
 */
export function s3Traffic(server) {
  const requests = Object.fromEntries(OPS.map((op) => [op, server.count(op)]))
  let downloadedBytes = 0
  let uploadedBytes = 0
  let originalGets = 0
  for (const e of server.log) {
    const size = server.objects.get(e.key)?.body.length ?? 0
    if (e.op === 'GET' && e.status === 200) {
      downloadedBytes += size
      if (/(^|\/)originals\/[^/]+\.(png|jpe?g|webp|avif)$/.test(e.key)) originalGets++
    }
    if (e.op === 'PUT' && e.status === 200) uploadedBytes += size
  }
  return { requests, total: server.log.length, downloadedBytes, uploadedBytes, originalGets }
}

/** `GET 80, HEAD 0, PUT 0, DELETE 0, LIST 0` */
export function formatOps(requests) {
  return OPS.map((op) => `${op} ${requests[op]}`).join(', ')
}
