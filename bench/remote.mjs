// Section 10: the remote cache (issue 18). The example blog scaled to 40 flux images (section 4's
// site: frontmatter heroes and markdown images), its originals in a bucket of the repository's
// S3-subset server on loopback (test/s3-server), whole `astro build` processes alternating (the
// fresh builds in a paired run of their own against more local ones: their minute of encoding
// would weigh on whichever build follows), the disk synced before each:
//
//   local         warm, the full local cache, no remote set (the baseline of every ratio)
//   fresh         an empty .flux-cache each run, the remote set: 40 originals pulled, every variant encoded
//   originals     only .flux-cache/originals emptied each run (variants kept), the remote set:
//                 40 originals pulled, nothing encoded (the remote's own cost)
//   remote-warm   the full local cache with the remote set (nothing to ask the bucket)
//   ...-30ms      the same with every S3 request answered 30 ms late (a nearby region; loopback has none)
//
// Every remote build must make 0 gateway requests and write nothing to the bucket, and every pull
// must download exactly 40 originals; every build's dist/_flux must hold the same bytes as the
// local one's; `originals` and the warm builds must leave the variants untouched (no encode). Then
// `flux-images pull` into an empty cache (0 and 30 ms), and the bytes: the bucket, the originals,
// and what committing them would add to git history.
//
//   node bench/remote.mjs [--full]               pnpm build first; 3 rounds, --full 5
//   BENCH_REMOTE_DIR=/somewhere node bench/remote.mjs
//   BENCH_REMOTE_DELAY_MS=150 node bench/remote.mjs   a farther region than the default 30 ms
//
// The copies live in <os temp>/flux-bench-remote; the `local` copy keeps its .flux-cache between
// benchmark runs. The bucket lives in this process: it is filled by the local copy's cold build
// with the remote set (the first time), else by `flux-images push` of the kept cache.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { machineInfo, machineMarkdown } from './lib/machine.mjs'
import { assertOk, measureProcess } from './lib/measure.mjs'
import { BENCH_KEY, benchEnv, loadMockGateway } from './lib/mock.mjs'
import { runPaired } from './lib/paired.mjs'
import { BENCH_TMP, benchPhotos, CLI_BIN } from './lib/projects.mjs'
import { formatOps, loadS3Server, remoteEnv, s3Traffic } from './lib/s3.mjs'
import { cacheSnapshot, copySite, EXAMPLES, photoSource, snapshotChanges } from './lib/sites.mjs'
import { formatMB, formatMs, formatRange } from './lib/stats.mjs'
import { scaleBlog } from './warm.mjs'

const IMAGES = 40
// A nearby region's round trip, added by the server before it answers each request.
const DELAY_MS = Number(process.env.BENCH_REMOTE_DELAY_MS ?? 30)
const BUCKET = 'flux-bench'
const PREFIX = 'blog'
const MB = 1e6

/** Runs section 10; resolves to its markdown. */
export async function remote({ full = false, log = () => {} } = {}) {
  const rounds = full ? 5 : 3
  const photos = await benchPhotos(48)
  const { createMockGateway } = await loadMockGateway()
  const { createS3Server } = await loadS3Server()
  const gateway = await createMockGateway({ apiKey: BENCH_KEY, images: distinctPhotos(photos) })
  const s3 = await createS3Server({ bucket: BUCKET })
  const envLocal = benchEnv(gateway)
  const envRemote = benchEnv(gateway, await remoteEnv(s3, PREFIX))
  const root = process.env.BENCH_REMOTE_DIR ?? join(tmpdir(), 'flux-bench-remote')
  try {
    const site = {}
    let added
    for (const name of ['local', 'fresh', 'originals', 'pull']) {
      site[name] = await copySite(EXAMPLES.astroBlog, join(root, name))
      added = await scaleBlog(site[name], envLocal, added)
    }
    const cacheOf = (dir, sub = '') => join(dir, '.flux-cache', sub)
    const run = (args, dir, env) => measureProcess(process.execPath, args, { cwd: dir, env })
    const astro = (dir, env) => run([join(dir, 'node_modules/astro/bin/astro.mjs'), 'build'], dir, env)
    const cli = (command, dir, env) => run([CLI_BIN, command, '--root', dir], dir, env)

    // The bucket: a cold build writes back what it generates; a kept cache is pushed instead.
    const local = site.local
    const kept = (await originalFiles(cacheOf(local, 'originals'))).length
    s3.reset()
    gateway.reset()
    log(kept === IMAGES ? '  filling the bucket: flux-images push' : '  filling the bucket: a cold build')
    const primed =
      kept === IMAGES
        ? assertOk(await cli('push', local, envRemote), 'flux-images push')
        : assertOk(await astro(local, envRemote), 'cold astro build with the remote set')
    const priming = {
      how:
        kept === IMAGES ? '`flux-images push` of the kept local cache' : 'a cold build with the remote set',
      wallMs: primed.wallMs,
      generations: gateway.requests,
      traffic: s3Traffic(s3),
      said: kept === IMAGES ? primed.stdout.trim() : remoteLine(primed.stdout + primed.stderr),
    }
    log(`  ${priming.how}: ${formatMs(priming.wallMs)}, ${formatOps(priming.traffic.requests)}`)
    const bucket = bucketContents(s3)
    if (bucket.images !== IMAGES || bucket.metadata !== IMAGES) {
      throw new Error(
        `bench: the bucket holds ${bucket.images} originals and ${bucket.metadata} metadata files, not ${IMAGES} each`,
      )
    }
    assertOk(await astro(local, envLocal), 'warm-up build of the local copy')
    const reference = await distDigest(local)

    /**
     * One measured build of `dir`, after emptying (untimed) nothing, its whole cache (`wipe: 'all'`:
     * it pulls every original and encodes every variant) or its originals (`'originals'`: it pulls
     * every original and must encode nothing). Then the checks of the header.
     */
    const build =
      (dir, { remote: remoteSet, delay = 0, wipe = 'none' }) =>
      async () => {
        await rm(join(dir, 'dist'), { recursive: true, force: true })
        if (wipe !== 'none') {
          await rm(cacheOf(dir, wipe === 'all' ? '' : 'originals'), { recursive: true, force: true })
        }
        const variants = await cacheSnapshot(cacheOf(dir, 'variants'))
        const originals = await cacheSnapshot(cacheOf(dir, 'originals'))
        // Untimed: the disk writes of earlier runs (a fresh build's 445 variants) flushed now, not
        // in the middle of this one.
        execFileSync('sync')
        gateway.reset()
        s3.reset()
        s3.fault = delay ? () => ({ delayMs: delay }) : undefined
        const m = assertOk(await astro(dir, remoteSet ? envRemote : envLocal), `astro build of ${dir}`)
        s3.fault = undefined
        const traffic = s3Traffic(s3)
        const encodes = snapshotChanges(variants, await cacheSnapshot(cacheOf(dir, 'variants'))).length
        const rewritten = snapshotChanges(originals, await cacheSnapshot(cacheOf(dir, 'originals'))).length
        const { PUT, DELETE } = traffic.requests
        const problems = [
          gateway.requests !== 0 && `${gateway.requests} gateway requests`,
          PUT + DELETE !== 0 && `writes to the bucket: ${formatOps(traffic.requests)}`,
          wipe !== 'none' &&
            traffic.originalGets !== IMAGES &&
            `${traffic.originalGets} originals downloaded, not ${IMAGES}`,
          wipe === 'none' && rewritten !== 0 && `${rewritten} files of .flux-cache/originals changed`,
          wipe !== 'all' && encodes !== 0 && `${encodes} variant files changed (encodes)`,
          (await distDigest(dir)) !== reference && 'dist/_flux differs from the local build',
        ].filter(Boolean)
        if (problems.length) throw new Error(`bench: astro build of ${dir}: ${problems.join('; ')}`)
        return { ...m, traffic, encodes, said: remoteLine(m.stdout + m.stderr) }
      }
    const warmContenders = {
      local: build(local, { remote: false }),
      originals: build(site.originals, { remote: true, wipe: 'originals' }),
      'remote-warm': build(local, { remote: true }),
      [`originals-${DELAY_MS}ms`]: build(site.originals, {
        remote: true,
        delay: DELAY_MS,
        wipe: 'originals',
      }),
      [`remote-warm-${DELAY_MS}ms`]: build(local, { remote: true, delay: DELAY_MS }),
    }
    // The originals copy encodes its variants once (untimed), as a CI cache of variants would keep them.
    log('  warm-up: the originals copy encodes its variants once')
    await build(site.originals, { remote: true, wipe: 'all' })()
    const warm = await runPaired({ pairs: rounds, contenders: warmContenders, log })
    // Apart: a fresh build encodes for a minute or two, which would weigh on whichever build follows it.
    const cold = await runPaired({
      pairs: rounds,
      contenders: { local: warmContenders.local, fresh: build(site.fresh, { remote: true, wipe: 'all' }) },
      log,
    })

    // `flux-images pull` into an empty cache, alternating 0 and 30 ms.
    const pull = (delay) => async () => {
      await rm(cacheOf(site.pull), { recursive: true, force: true })
      s3.reset()
      s3.fault = delay ? () => ({ delayMs: delay }) : undefined
      const m = assertOk(await cli('pull', site.pull, envRemote), 'flux-images pull')
      s3.fault = undefined
      const traffic = s3Traffic(s3)
      const got = (await originalFiles(cacheOf(site.pull, 'originals'))).length
      if (traffic.originalGets !== IMAGES || got !== IMAGES || traffic.requests.PUT !== 0) {
        throw new Error(
          `bench: pull downloaded ${traffic.originalGets}, kept ${got}: ${formatOps(traffic.requests)}`,
        )
      }
      return { ...m, traffic, said: m.stdout.trim() }
    }
    const pulls = await runPaired({
      pairs: rounds,
      contenders: { pull: pull(0), [`pull-${DELAY_MS}ms`]: pull(DELAY_MS) },
      log,
    })

    const bytes = await originalBytes(cacheOf(local, 'originals'))
    const git = await gitHistory(cacheOf(local, 'originals'))
    return { md: markdown({ rounds, root, added, priming, bucket, warm, cold, pulls, bytes, git }) }
  } finally {
    await s3.close()
    await gateway.close()
  }
}

/**
 * A mock image source that gives each new prompt a photo no earlier prompt got, cropped to its size,
 * so the 40 originals are 40 different pictures, as a generator's are (section 4's source picks
 * by hash, and 40 prompts then share 27 photos).
 */
function distinctPhotos(photos) {
  const given = new Map()
  return {
    make(request) {
      if (!given.has(request.prompt)) {
        const photo = photos[given.size]
        if (!photo) throw new Error(`bench: more than ${photos.length} prompts`)
        given.set(request.prompt, photoSource([photo]))
      }
      return given.get(request.prompt).make(request)
    },
  }
}

/** The image files of a cache's originals folder. */
async function originalFiles(dir) {
  return (await readdir(dir).catch(() => [])).filter((f) => !f.endsWith('.json'))
}

/** Bytes of the originals' images and of their metadata files. */
async function originalBytes(dir) {
  const out = { images: 0, imageBytes: 0, metadataBytes: 0 }
  for (const f of await readdir(dir)) {
    const { size } = await stat(join(dir, f))
    if (f.endsWith('.json')) out.metadataBytes += size
    else {
      out.images++
      out.imageBytes += size
    }
  }
  return out
}

/** What the bucket holds: originals' images and metadata, other objects, and their bytes. */
function bucketContents(s3) {
  const out = { images: 0, metadata: 0, other: 0, bytes: 0 }
  for (const [key, o] of s3.objects) {
    out.bytes += o.body.length
    if (key.startsWith(`${PREFIX}/originals/`)) out[key.endsWith('.json') ? 'metadata' : 'images']++
    else out.other++
  }
  return out
}

/** One hash of every file under dist/_flux (names and bytes): equal digests, identical images. */
async function distDigest(dir) {
  const base = join(dir, 'dist', '_flux')
  const hash = createHash('sha256')
  const files = (await readdir(base, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort()
  for (const file of files) hash.update(`${file.slice(base.length)}\n`).update(await readFile(file))
  return `${files.length}:${hash.digest('hex')}`
}

/** The build summary's remote part, e.g. `remote: 40 downloaded (88.1 MB), 0 uploaded (0 MB)`. */
function remoteLine(output) {
  return /remote: [^\n]*/.exec(output)?.[0] ?? '(no remote line)'
}

/**
 * What committing these originals adds to a git repository's history: git's objects before
 * packing (each file zlib-compressed alone, identical files stored once) and the pack after `git gc`
 * (deltas between similar files), with how many distinct images there are.
 */
async function gitHistory(originals) {
  const repo = await mkdtemp(join(tmpdir(), 'flux-bench-git-'))
  const git = (...args) =>
    execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...args], {
      cwd: repo,
      encoding: 'utf8',
    })
  const kib = (field, text) => Number(new RegExp(`^${field}: (\\d+)$`, 'm').exec(text)?.[1]) * 1024
  try {
    await cp(originals, join(repo, '.flux-cache', 'originals'), { recursive: true })
    const images = await originalFiles(originals)
    const distinct = new Map()
    for (const f of images) {
      const bytes = await readFile(join(originals, f))
      distinct.set(createHash('sha256').update(bytes).digest('hex'), bytes.length)
    }
    git('init', '-q')
    git('add', '-A')
    git('commit', '-qm', 'originals')
    const looseBytes = kib('size', git('count-objects', '-v'))
    git('gc', '-q')
    const packBytes = kib('size-pack', git('count-objects', '-v'))
    return {
      images: images.length,
      distinct: distinct.size,
      distinctBytes: [...distinct.values()].reduce((a, b) => a + b, 0),
      looseBytes,
      packBytes,
    }
  } finally {
    await rm(repo, { recursive: true, force: true })
  }
}

function markdown({ rounds, root, added, priming, bucket, warm, cold, pulls, bytes, git }) {
  const names = Object.keys(warm.runs)
  const describe = {
    local: 'full',
    fresh: 'empty',
    originals: 'variants only',
    'remote-warm': 'full',
  }
  const row = (name, result = warm) => {
    const runs = result.runs[name]
    const base = name.replace(/-\d+ms$/, '')
    const delay = name === base ? 'loopback' : `+${DELAY_MS} ms a request`
    const ratio = name === 'local' ? '1' : `**${formatRange(result.ratio(name, 'local'))}**`
    const ops = [...new Set(runs.map((m) => formatOps(m.traffic.requests)))].join(' / ')
    const down = [...new Set(runs.map((m) => (m.traffic.downloadedBytes / MB).toFixed(1)))].join(' / ')
    return `| ${name} | ${describe[base]} | ${base === 'local' ? 'none' : delay} | ${formatRange(result.summary(name), formatMs)} | ${ratio} | ${formatRange(result.summary(name, 'cpuMs'), formatMs)} | ${formatRange(result.summary(name, 'peakRssMB'), formatMB)} | ${ops} | ${down} MB | ${[...new Set(runs.map((m) => m.encodes))].join(' / ')} |`
  }
  const pullRow = (name) =>
    `| ${name} | ${formatRange(pulls.summary(name), formatMs)} | ${formatRange(pulls.summary(name, 'cpuMs'), formatMs)} | ${formatOps(pulls.runs[name][0].traffic.requests)} | ${(pulls.runs[name][0].traffic.downloadedBytes / MB).toFixed(1)} MB | ${pulls.runs[name][0].said} |`
  return [
    `The example blog copied to ${root} and scaled to ${IMAGES} distinct flux images (${added.posts} more posts, each a frontmatter hero and body images); its originals in the bucket \`s3://${BUCKET}/${PREFIX}\` of the repository's S3-subset server on loopback (${bucket.images} images + ${bucket.metadata} metadata files, ${(bucket.bytes / MB).toFixed(1)} MB, ${bucket.other} other objects), filled by ${priming.how} (${formatMs(priming.wallMs)}; ${priming.generations} gateway requests; ${formatOps(priming.traffic.requests)}; ${(priming.traffic.uploadedBytes / MB).toFixed(1)} MB uploaded; said \`${priming.said}\`). ${rounds} rounds of whole \`astro build\` processes, every contender once a round, the order reversed every other round; dist/ removed and the disk synced (\`sync\`) before each, untimed. Every remote build: 0 gateway requests, 0 PUT and 0 DELETE, dist/_flux byte-identical to the local build's; every pull: exactly ${IMAGES} originals downloaded.`,
    '',
    '| build | local cache | remote | wall | / local (paired) | CPU | peak RSS | S3 requests by op | downloaded | variant files written |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ...names.map((name) => row(name)),
    row('fresh', cold),
    '',
    `The fresh builds ran in a paired run of their own, against ${rounds} more local builds (${formatRange(cold.summary('local'), formatMs)}), their ratio pair by pair with those. What the builds said: ${[...names.filter((n) => n !== 'local').map((n) => `${n}: \`${warm.runs[n][0].said}\``), `fresh: \`${cold.runs.fresh[0].said}\``].join('; ')}.`,
    '',
    `\`flux-images pull\` into an empty cache (${rounds} runs each, alternating):`,
    '',
    '| run | wall | CPU | S3 requests by op | downloaded | it said |',
    '| --- | ---: | ---: | --- | ---: | --- |',
    ...Object.keys(pulls.runs).map(pullRow),
    '',
    `Bytes: the ${bytes.images} originals weigh ${(bytes.imageBytes / MB).toFixed(1)} MB (${(bytes.imageBytes / bytes.images / MB).toFixed(2)} MB each on average) plus ${(bytes.metadataBytes / 1e3).toFixed(0)} KB of metadata; committed to git, they add ${(git.looseBytes / MB).toFixed(1)} MB of objects to the history, ${(git.packBytes / MB).toFixed(1)} MB once packed by \`git gc\`, for good (each regenerated image adds its new bytes again). (${git.distinct} distinct images of ${git.images}: ${(git.distinctBytes / MB).toFixed(1)} MB of PNG became ${(git.looseBytes / MB).toFixed(1)} MB of git objects, x${(git.looseBytes / git.distinctBytes).toFixed(2)}.)`,
  ].join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const full = process.argv.includes('--full')
  const log = (line) => process.stderr.write(`${line}\n`)
  const machine = machineInfo()
  log(`[bench] 10. The remote cache (${full ? 'full' : 'quick'})\n${machineMarkdown(machine)}`)
  const started = performance.now()
  const { md } = await remote({ full, log })
  const text = [
    `### 10. The remote cache (${full ? 'full' : 'quick'} run)`,
    '',
    machineMarkdown({ ...machineInfo(), date: machine.date }),
    `- Command: \`node bench/remote.mjs${full ? ' --full' : ''}\` (took ${formatMs(performance.now() - started)})`,
    '',
    md,
    '',
  ].join('\n')
  await mkdir(join(BENCH_TMP, 'results'), { recursive: true })
  await writeFile(join(BENCH_TMP, 'results', `remote-${full ? 'full' : 'quick'}.md`), text)
  console.log(`\n${text}`)
}
