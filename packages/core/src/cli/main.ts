import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Flux } from '../create-flux.js'
import { PRUNE_CONFIRM_ABOVE } from '../create-flux.js'
import { costByModel, priceOf, type UnusedOriginal } from '../engine/index.js'
import { presetOf, type RequestDefaults } from '../engine/resolve-request.js'
import { FluxError, formatLocation } from '../errors.js'
import type { FluxOptions } from '../options.js'
import { printable, redact } from '../redact.js'
import { countBy, createSession, formatSummary, megabytes, type Session } from '../session/create-session.js'
import type { Directive, Logger } from '../types.js'
import { createConsoleLogger } from './console-logger.js'

const USAGE = `Usage: flux-images <command> [options]

Commands:
  scan       List every flux: directive with its location and cache status
  generate   Generate the images that are missing from the cache
  prune      Remove cache entries that no directive references
  report     Write an HTML gallery of the cache (offline, self-contained)
  push       Upload every local original the shared bucket lacks (remote cache)
  pull       Download every original of the shared bucket the local cache lacks
  candidates <file:line | key>     List one directive's images (--list), or make --n more (paid)
  pick <file:line | key> <number>  Show that candidate for the directive from now on (0: its own)

Options:
  --root DIR            Project root (default: the current directory)
  --json                scan: print JSON
  --concurrency N       generate: requests in flight at once (default 4, or FLUX_CONCURRENCY)
  --mode MODE           generate: auto | frozen | placeholder (default auto, or FLUX_MODE)
  --max N               generate: cap on new paid generations this run (default 50)
  --max-spend USD       generate: cap on what this run spends, in USD (or FLUX_MAX_SPEND)
  --dry-run             generate: list what would be generated and its cost; prune: list only
  --force               generate: retry prompts the gateway refused before
  --yes                 prune: remove even when that is every entry, or more than ${PRUNE_CONFIRM_ABOVE};
                        candidates: make them without asking (each one is a paid generation)
  --n N                 candidates: how many to make (default 4)
  --list                candidates: list them, make none
  --out FILE            report: where to write it (default: flux-report.html in the root)
  -h, --help            Show this help

Environment: FLUX_API_KEY (secret), FLUX_BASE_URL, FLUX_MODE, FLUX_CONCURRENCY, FLUX_REQUIRE_REAL;
remote cache: FLUX_REMOTE_URL (s3://bucket/prefix), FLUX_REMOTE_ENDPOINT, FLUX_REMOTE_MODE,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (secret), AWS_REGION.
Configuration: flags, then the environment, then FLUX_ variables of .env, .env.local,
.env.production and .env.production.local at the root, then flux.config.{mjs,js,ts}, then defaults.`

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  env: Readonly<Record<string, string | undefined>>
  cwd: string
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (err) {
    io.stderr.write(`[flux] ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`)
    return 2
  }
  const { command, values, positionals } = parsed
  if (values.help || !command) {
    io.stdout.write(`${USAGE}\n`)
    return command || values.help ? 0 : 2
  }
  const logger = createConsoleLogger(io.stderr)
  let session: Session | undefined
  try {
    const root = resolve(io.cwd, values.root ?? '.')
    const flags: FluxOptions = {
      root,
      logger,
      ...(values.concurrency !== undefined && { concurrency: values.concurrency as unknown as number }),
      ...(values.mode !== undefined && { mode: values.mode as FluxOptions['mode'] }),
      ...(values.max !== undefined && { maxGenerations: values.max as unknown as number }),
      ...(values['max-spend'] !== undefined && { maxSpend: values['max-spend'] as unknown as number }),
    }
    session = await createSession(flags, { command: 'cli', root, env: io.env })
    const { flux } = session
    switch (command) {
      case 'scan':
        return await scanCommand(flux, io, values.json ?? false)
      case 'generate':
        return await generateCommand(flux, io, logger, {
          dryRun: values['dry-run'] ?? false,
          force: values.force ?? false,
        })
      case 'prune':
        return await pruneCommand(flux, io, { dryRun: values['dry-run'] ?? false, yes: values.yes ?? false })
      case 'report':
        return await reportCommand(flux, io, logger, values.out && resolve(io.cwd, values.out))
      case 'push':
      case 'pull':
        return await transferCommand(flux, io, command)
      case 'candidates':
        return await candidatesCommand(flux, io, positionals[1], {
          list: values.list ?? false,
          count: values.n === undefined ? 4 : Number(values.n),
          yes: values.yes ?? false,
        })
      case 'pick':
        return await pickCommand(flux, io, positionals[1], positionals[2])
      default:
        io.stderr.write(`[flux] Unknown command "${command}".\n\n${USAGE}\n`)
        return 2
    }
  } catch (err) {
    const text = FluxError.is(err)
      ? err.toString()
      : `[flux] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
    io.stderr.write(`${redact(redact(text, io.env.FLUX_API_KEY), session?.options.apiKey)}\n`)
    // Options that cannot be used are a usage error (README: exit code 2), wherever they were set.
    return FluxError.is(err, 'FLUX_INVALID_OPTIONS') ? 2 : 1
  } finally {
    await session?.close()
  }
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      root: { type: 'string' },
      json: { type: 'boolean' },
      concurrency: { type: 'string' },
      mode: { type: 'string' },
      max: { type: 'string' },
      'max-spend': { type: 'string' },
      'dry-run': { type: 'boolean' },
      force: { type: 'boolean' },
      yes: { type: 'boolean' },
      out: { type: 'string' },
      n: { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const takes = { candidates: 2, pick: 3 }[positionals[0] ?? ''] ?? 1
  if (positionals.length > takes) throw new Error(`Unexpected argument "${positionals[takes]}".`)
  return { command: positionals[0], values, positionals }
}

// `scan` writes its rows 1,000 at a time: a write per row is a system call per row (20,000 for a
// large site), and one write of every row held all the lines at once (the peak of a large scan).
const ROWS_PER_WRITE = 1000

async function scanCommand(flux: Flux, io: CliIO, json: boolean): Promise<number> {
  const report = await flux.scan()
  const rows = report.items.flatMap((item) =>
    item.directives.map((d) => ({
      location: formatLocation(d.location),
      kind: d.kind,
      prompt: item.request.prompt,
      // With a preset, the prompt as written differs from the prompt sent.
      ...withPreset(d, flux.options),
      model: item.request.model,
      size: item.request.size,
      quality: item.request.quality,
      ...(item.request.seed !== undefined && { seed: item.request.seed }),
      key: item.key,
      status: item.status,
    })),
  )
  // One collator: localeCompare with options builds one per comparison.
  const byLocation = new Intl.Collator('en', { numeric: true })
  rows.sort((a, b) => byLocation.compare(a.location, b.location))
  if (json) {
    const errors = report.errors.map((e) => ({
      code: e.code,
      location: e.location && formatLocation(e.location),
      message: e.message,
      hint: e.hint,
    }))
    io.stdout.write(`${JSON.stringify({ directives: rows, errors }, null, 2)}\n`)
  } else {
    const line = (r: (typeof rows)[number]) =>
      // Nothing in a row reaches the terminal as a control sequence (a C1 CSI survives JSON).
      `${r.location}  ${r.status.padEnd(11)} ${printable(r.model)} ${printable(r.size)}  ${r.key}  ${printable(JSON.stringify(r.prompt))}${
        r.preset ? printable(` (preset ${r.preset}, written ${JSON.stringify(r.written)})`) : ''
      }\n`
    for (let start = 0; start < rows.length; start += ROWS_PER_WRITE)
      io.stdout.write(
        rows
          .slice(start, start + ROWS_PER_WRITE)
          .map(line)
          .join(''),
      )
    const counts = countBy(report.items.map((i) => i.status))
    io.stdout.write(
      `${rows.length} directive(s), ${report.items.length} distinct image(s): ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}\n`,
    )
    for (const warning of report.warnings) io.stderr.write(`[flux] ${warning}\n`)
    for (const err of report.errors) io.stderr.write(`${err.toString()}\n`)
  }
  return report.errors.length > 0 ? 1 : 0
}

/** The preset a directive uses and its prompt as written, when it uses one. */
function withPreset(d: Directive, options: RequestDefaults): { preset?: string; written?: string } {
  const preset = presetOf(d.params, options)
  return preset ? { preset: preset.name, written: d.prompt } : {}
}

async function generateCommand(
  flux: Flux,
  io: CliIO,
  logger: Logger,
  { dryRun, force }: { dryRun: boolean; force: boolean },
): Promise<number> {
  const summary = await flux.generate({ dryRun, force, signal: io.signal, progressStream: io.stderr })
  if (dryRun && summary.wouldGenerate) {
    for (const item of summary.wouldGenerate) {
      const where = item.directives.map((d) => formatLocation(d.location)).join(', ')
      io.stdout.write(
        `would generate  ${item.request.model} ${item.request.size}  ${JSON.stringify(item.request.prompt)}  (${where})\n`,
      )
    }
    for (const [model, { count, cost }] of costByModel(summary.wouldGenerate, flux.options.prices)) {
      io.stdout.write(`  ${model}: ${count} image(s), est. $${cost.toFixed(3)}\n`)
    }
    io.stdout.write(
      `${summary.wouldGenerate.length} image(s) would be generated, est. $${summary.estimatedCost.toFixed(3)}; ${summary.cached} cached. Nothing was called.\n`,
    )
    io.stdout.write(describeUnused(summary.unused ?? []))
  } else {
    logger.info(formatSummary(summary))
  }
  for (const err of summary.failed.filter(
    (e) => e.code === 'FLUX_MISSING_FROZEN' || e.code === 'FLUX_BUDGET' || e.code === 'FLUX_REQUIRE_REAL',
  )) {
    logger.error(err.toString())
  }
  if (io.signal?.aborted) return 130
  return summary.failed.length > 0 ? 1 : 0
}

/** What a dry run says of the originals no directive uses any more: grouped by what re-keyed them, with their prompts. */
function describeUnused(unused: readonly UnusedOriginal[]): string {
  if (unused.length === 0) return ''
  // Parameter changes first (fewest first), then lost prompts; by prompt within a group.
  const rank = (o: UnusedOriginal) => (o.causes.includes('prompt') ? 9 : o.causes.length)
  const sorted = [...unused].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      a.causes.join().localeCompare(b.causes.join()) ||
      a.request.prompt.localeCompare(b.request.prompt),
  )
  const groups = new Map<string, UnusedOriginal[]>()
  for (const original of sorted) {
    const label = original.causes.includes('prompt')
      ? 'no directive sends their prompt any more (a prompt changed, or its directive was removed)'
      : `re-keyed by a change of ${original.causes.join(' and ')}`
    groups.set(label, [...(groups.get(label) ?? []), original])
  }
  const lines = [
    `${unused.length} cached original(s) no directive uses any more (\`flux-images prune\` removes them; each costs its price again to make):`,
  ]
  for (const [label, originals] of groups) {
    lines.push(`  ${label}: ${originals.length}`)
    for (const { key, request, causes, now } of originals) {
      const changes = now
        ? causes.map((name) => `${name} ${show(request[name])} -> ${show(now.request[name])}`).join(', ')
        : `${printable(request.model)} ${printable(request.size)}`
      const where = now ? `  (${now.directives.map((d) => formatLocation(d.location)).join(', ')})` : ''
      lines.push(`    ${printable(JSON.stringify(request.prompt))}  ${changes}${where}  ${key}`)
    }
  }
  return `${lines.join('\n')}\n`
}

/** A request's parameter as a line shows it (`none` for a seed not set). */
const show = (value: string | number | undefined) => (value === undefined ? 'none' : printable(String(value)))

async function pruneCommand(
  flux: Flux,
  io: CliIO,
  { dryRun, yes }: { dryRun: boolean; yes: boolean },
): Promise<number> {
  const { removed, requests, unconfirmed, candidates } = await flux.prune({ dryRun, confirmed: yes })
  if (candidates.length > 0)
    io.stdout.write(
      `${candidates.length} candidate(s) older than a week ${dryRun ? 'would be removed' : 'removed'} (picked ones stay among the originals).\n`,
    )
  const listed = unconfirmed?.wouldRemove ?? removed
  const verb = dryRun || unconfirmed ? 'would remove' : 'removed'
  for (const key of listed) {
    // What it shows, not only its key: a paid original is recognised by its prompt.
    const request = requests.get(key)
    const what = request
      ? `\n    ${printable(request.model)} ${printable(request.size)}  ${printable(JSON.stringify(request.prompt))}`
      : ''
    io.stdout.write(`${verb}  ${key}${what}\n`)
  }
  if (unconfirmed) {
    const { wouldRemove, total } = unconfirmed
    io.stderr.write(
      `[flux] Nothing was removed: prune would remove ${wouldRemove.length === total ? `every one of the ${total}` : `${wouldRemove.length} of the ${total}`} cache entries (listed above), and originals cost money to make again.\n` +
        `  hint: If a typo in \`include\`, \`exclude\` or --root hides directives, fix it and check with \`flux-images scan\`; to remove them anyway, run \`flux-images prune --yes\`.\n`,
    )
    return 1
  }
  io.stdout.write(
    `${removed.length} unreferenced entr${removed.length === 1 ? 'y' : 'ies'} ${dryRun ? 'would be removed' : 'removed'}.\n`,
  )
  return 0
}

/** The planned image a `file:line` (as `scan` prints it, the column optional) or a key names. */
async function findTarget(flux: Flux, io: CliIO, target: string | undefined) {
  if (!target) {
    io.stderr.write('[flux] Name the directive: `file:line` as `flux-images scan` prints it, or its key.\n')
    return undefined
  }
  const report = await flux.scan()
  const item = report.items.find(
    (i) =>
      i.key === target ||
      i.directives.some((d) => {
        const { file, line, column } = d.location
        return target === `${file}:${line}` || target === `${file}:${line}:${column}`
      }),
  )
  if (!item)
    io.stderr.write(`[flux] No directive at ${JSON.stringify(target)}: \`flux-images scan\` lists them.\n`)
  return item
}

async function candidatesCommand(
  flux: Flux,
  io: CliIO,
  target: string | undefined,
  { list, count, yes }: { list: boolean; count: number; yes: boolean },
): Promise<number> {
  const item = await findTarget(flux, io, target)
  if (!item) return 2
  const candidates = flux.candidates({ request: item.request })
  const show = (all: Awaited<ReturnType<typeof candidates.list>>) => {
    for (const c of all)
      io.stdout.write(
        `${String(c.number).padStart(3)}  ${c.shown ? 'shown' : '     '}  ${c.key}  ${c.width}x${c.height}  ${c.path}\n`,
      )
  }
  const where = printable(JSON.stringify(item.request.prompt))
  if (list) {
    const all = await candidates.list()
    show(all)
    io.stdout.write(`${all.length} image(s) of ${where}.\n`)
    return 0
  }
  if (!Number.isInteger(count) || count < 1 || count > 16) {
    io.stderr.write(
      `[flux] --n: Expected a whole number from 1 to 16, got ${JSON.stringify(String(count))}.\n`,
    )
    return 2
  }
  const cost = priceOf(item.request, flux.options.prices) * count
  const line = `${count} candidate(s) of ${where} (${printable(item.request.model)}, ${printable(item.request.size)}): est. $${cost.toFixed(3)}`
  if (!yes) {
    io.stderr.write(
      `[flux] Would make ${line}, each a paid generation. Nothing was sent.\n  hint: Run again with --yes to make them.\n`,
    )
    return 1
  }
  io.stderr.write(`[flux] Making ${line}.\n`)
  show(await candidates.make(count))
  io.stdout.write(`Pick one with: flux-images pick ${target} <number>\n`)
  return 0
}

async function pickCommand(
  flux: Flux,
  io: CliIO,
  target: string | undefined,
  number: string | undefined,
): Promise<number> {
  const item = await findTarget(flux, io, target)
  if (!item) return 2
  if (number === undefined || !/^\d+$/.test(number)) {
    io.stderr.write(
      `[flux] Name the candidate by its number (0 for the directive's own image): \`flux-images candidates ${target} --list\`.\n`,
    )
    return 2
  }
  await flux.candidates({ request: item.request }).pick(Number(number))
  io.stdout.write(
    Number(number) === 0
      ? `${target} shows its own image again (the candidates are kept).\n`
      : `${target} shows candidate ${number} from now on: commit ${flux.options.cacheDir.replace(`${flux.options.root}/`, '')}/picks and originals.\n`,
  )
  return 0
}

async function transferCommand(flux: Flux, io: CliIO, direction: 'push' | 'pull'): Promise<number> {
  const remote = flux.cache.remote
  if (!remote) {
    io.stderr.write(
      `[flux] ${direction} needs a shared bucket, and none is set.\n  hint: Set FLUX_REMOTE_URL=s3://bucket/prefix (with FLUX_REMOTE_ENDPOINT for a store other than AWS S3, and credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or \`remote\` in flux.config.mjs.\n`,
    )
    return 2
  }
  const { moved, bytes, present, refused } = direction === 'push' ? await remote.push() : await remote.pull()
  const there = direction === 'push' ? 'already in the bucket' : 'already local'
  io.stdout.write(
    `${direction === 'push' ? 'Uploaded' : 'Downloaded'} ${moved} original(s) (${megabytes(bytes)}) ${direction === 'push' ? 'to' : 'from'} ${remote.location}; ${present} ${there}${refused.length ? `; ${refused.length} refused (damaged, listed above)` : ''}.\n`,
  )
  return refused.length > 0 ? 1 : 0
}

async function reportCommand(
  flux: Flux,
  io: CliIO,
  logger: Logger,
  out: string | undefined,
): Promise<number> {
  // The report's renderer loads only for this command.
  const { writeReport } = await import('../report/index.js')
  const { path, data } = await writeReport({ flux, logger, ...(out !== undefined && { out }) })
  for (const problem of data.scanProblems) logger.warn(problem)
  const counts = countBy(data.entries.map((e) => e.status))
  logger.info(
    `Report of ${data.entries.length} cache entr${data.entries.length === 1 ? 'y' : 'ies'}: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}${data.missing.length ? `; ${data.missing.length} missing` : ''}.`,
  )
  io.stdout.write(`${path}\n`)
  return 0
}
