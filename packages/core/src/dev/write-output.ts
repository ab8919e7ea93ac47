import { constants } from 'node:fs'
import { copyFile, mkdir } from 'node:fs/promises'
import { basename, isAbsolute, join, relative } from 'node:path'
import type { FluxError } from '../errors.js'
import type { Session } from '../session/create-session.js'
import { readOutput } from './read-output.js'
import { checkOutput, unresolvedError } from './unresolved-output.js'

export interface WriteOutputOptions {
  /** Where the pages are (`build.client` in a server build, else the output folder). */
  clientDir: string
  /** The whole output (a server build's `dist/`: its bundle's code may hold a `flux:` too). @default clientDir */
  outDir?: string | undefined
  /** Files the host handed out besides the session's images (social cards): public URL -> file. */
  extra?: ReadonlyMap<string, string>
}

/**
 * A build's end: the files of exactly the images our markup showed (the session recorded them as
 * they resolved; an image only the host's own pipeline showed has none) and `extra`, copied under
 * `<clientDir><publicPath>`; then the output read once, as a guard: a `flux:` left where a URL goes
 * is the one error returned (never a silent broken image). The output is not walked for copying.
 */
export async function writeOutput(
  session: Session,
  { clientDir, outDir, extra }: WriteOutputOptions,
): Promise<{ written: number; folder: string; error?: Error }> {
  const made = new Map([...session.files.values(), ...(extra?.values() ?? [])].map((p) => [basename(p), p]))
  const folder = new URL(session.options.image.publicPath, 'http://x').pathname
  const out = join(clientDir, folder)
  await mkdir(out, { recursive: true })
  // By name: content-hashed, so one name is one file. A copy-on-write clone where the file system
  // has them (btrfs, XFS, APFS), else a copy.
  await Promise.all(
    [...made].map(([name, path]) => copyFile(path, join(out, name), constants.COPYFILE_FICLONE)),
  )
  const check = { directives: (await session.scan()).directives }
  const unresolved: FluxError[] = []
  await readOutput(outDir && contains(outDir, clientDir) ? outDir : clientDir, async (file) => {
    unresolved.push(...(await checkOutput(clientDir, file, check)))
  })
  return { written: made.size, folder, ...(unresolved.length > 0 && { error: unresolvedError(unresolved) }) }
}

/** Whether `path` is `dir` or inside it (`build.client` may be set outside `outDir`). */
function contains(dir: string, path: string): boolean {
  const rest = relative(dir, path)
  return !rest.startsWith('..') && !isAbsolute(rest)
}
