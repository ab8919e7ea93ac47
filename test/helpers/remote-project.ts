// Machines of a fleet, for tests: a copy of a fixture project per machine (its own .flux-cache),
// the environment that points a CLI process at a bucket, and readers for what a run leaves in
// the local cache and in the bucket, each original checked against its metadata.
import { createHash } from 'node:crypto'
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { remoteOptionsFor, type S3Server } from '../s3-server/index.js'
import type { Credentials } from '../s3-server/sigv4.js'
import { cliEnv, runCli } from './cli.js'

/** 24 directives, 24 images nobody has paid for: 6 posts of 4 (frontmatter string and object, two body forms). */
export const FLEET_FIXTURE = fileURLToPath(new URL('../fixtures/remote-fleet', import.meta.url))
export const FLEET_IMAGES = 24

/** A machine's checkout: a fresh copy of `from` (with its cache, if it has one) in a temporary folder. */
export async function copyProject(
  from = FLEET_FIXTURE,
): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'flux-fleet-'))
  await cp(from, root, { recursive: true })
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) }
}

/** The FLUX_REMOTE_* variables a CI job sets to share a bucket (what `remoteOptionsFor` gives as an option). */
export function remoteEnv(
  server: { url: string; bucket: string; region: string; credentials: Credentials },
  prefix = 'site',
): Record<string, string> {
  const o = remoteOptionsFor(server, prefix)
  return {
    FLUX_REMOTE_URL: o.url,
    FLUX_REMOTE_ENDPOINT: o.endpoint,
    FLUX_REMOTE_REGION: o.region,
    FLUX_REMOTE_ACCESS_KEY_ID: o.accessKeyId,
    FLUX_REMOTE_SECRET_ACCESS_KEY: o.secretAccessKey,
  }
}

export interface ScannedImage {
  key: string
  prompt: string
  status: string
}

/** `flux-images scan --json` of the local cache alone (no remote configured), one row per image. */
export async function scanLocal(root: string): Promise<ScannedImage[]> {
  const run = await runCli(['scan', '--json'], { cwd: root, env: cliEnv() })
  if (run.code !== 0) throw new Error(`scan failed (${run.code}): ${run.stderr}`)
  const { directives } = JSON.parse(run.stdout) as { directives: ScannedImage[] }
  const byKey = new Map(directives.map((d) => [d.key, { key: d.key, prompt: d.prompt, status: d.status }]))
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key))
}

/** An original and the metadata it was stored with. */
interface Original {
  bytes: Buffer
  meta: { key: string; file: string; bytes: number; sha256: string }
}

/**
 * The originals of a local cache by key, each checked against its metadata (size and sha256):
 * throws on any that does not match, so a map returned is a verified one.
 */
export async function localOriginals(root: string): Promise<Map<string, Buffer>> {
  const dir = join(root, '.flux-cache', 'originals')
  const names = await readdir(dir).catch(() => [] as string[])
  const out = new Map<string, Original>()
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const meta = JSON.parse(await readFile(join(dir, name), 'utf8')) as Original['meta']
    out.set(meta.key, { meta, bytes: await readFile(join(dir, meta.file)) })
  }
  return verified(out, `the cache of ${root}`)
}

/** The originals in the bucket under `prefix` by key, checked as `localOriginals` checks them. */
export function bucketOriginals(server: S3Server, prefix = 'site'): Map<string, Buffer> {
  const dir = `${prefix}/originals/`
  const out = new Map<string, Original>()
  for (const [key, object] of server.objects) {
    if (!key.startsWith(dir) || !key.endsWith('.json')) continue
    const meta = JSON.parse(object.body.toString('utf8')) as Original['meta']
    const image = server.objects.get(`${dir}${meta.file}`)
    if (!image) throw new Error(`the bucket has the metadata of ${meta.key} without its image`)
    out.set(meta.key, { meta, bytes: image.body })
  }
  return verified(out, 'the bucket')
}

function verified(originals: Map<string, Original>, where: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const [key, { meta, bytes }] of originals) {
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    if (bytes.length !== meta.bytes || sha256 !== meta.sha256) {
      throw new Error(`${where}: the original of ${key} does not match its metadata`)
    }
    out.set(key, bytes)
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)))
}

/** Object keys in the bucket under `<prefix>/<area>/`, sorted. */
export function bucketKeys(server: S3Server, area: string, prefix = 'site'): string[] {
  return [...server.objects.keys()].filter((k) => k.startsWith(`${prefix}/${area}/`)).sort()
}

/** How many times `needle` occurs in `text`. */
export function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1
}

/** The `N generated` count of a run's summary line. */
export function generatedCount(stderr: string): number {
  const match = /\[flux\] \d+ image\(s\) from \d+ directive\(s\): (\d+) generated, (\d+) cached/.exec(stderr)
  if (!match) throw new Error(`no summary line in:\n${stderr}`)
  return Number(match[1])
}

/** The ` · remote: D downloaded (X MB), U uploaded (Y MB)` counts of a run's summary line. */
export function remoteCounts(stderr: string): { downloaded: number; uploaded: number } {
  const match = / · remote: (\d+) downloaded \([\d.]+ MB\), (\d+) uploaded \([\d.]+ MB\)/.exec(stderr)
  if (!match) throw new Error(`no remote counts in:\n${stderr}`)
  return { downloaded: Number(match[1]), uploaded: Number(match[2]) }
}
