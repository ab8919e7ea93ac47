import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { parseEnv } from 'node:util'

type Env = Readonly<Record<string, string | undefined>>

/** Only these reach the options: a project's `.env` holds other tools' secrets too. */
const PREFIX = 'FLUX_'

/** The `.env` files read for a mode, in Vite's order: a later file wins over an earlier one. */
export function envFiles(root: string, mode: string): string[] {
  return ['.env', '.env.local', `.env.${mode}`, `.env.${mode}.local`].map((name) => join(root, name))
}

/**
 * The environment as Vite gives it to a project in `mode`: the `FLUX_` variables of `.env`,
 * `.env.local`, `.env.[mode]` and `.env.[mode].local` at the root (a later file wins), under the
 * real environment, which always wins. Missing files are skipped. `fromFiles` names each variable
 * that only a file set, with that file's name: a pull request can add one, so options pair such a
 * value with the real environment's secrets only with a warning.
 */
export async function loadEnv(
  root: string,
  mode: string,
  real: Env,
): Promise<{ env: Env; fromFiles: ReadonlyMap<string, string> }> {
  const fromFiles: Record<string, string> = {}
  const fileOf = new Map<string, string>()
  for (const file of envFiles(root, mode)) {
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
      throw err
    })
    if (text === undefined) continue
    for (const [name, value] of Object.entries(parseEnv(text))) {
      if (name.startsWith(PREFIX) && value !== undefined) {
        fromFiles[name] = value
        fileOf.set(name, basename(file))
      }
    }
  }
  for (const name of fileOf.keys()) if (real[name] !== undefined) fileOf.delete(name)
  return { env: { ...fromFiles, ...real }, fromFiles: fileOf }
}
