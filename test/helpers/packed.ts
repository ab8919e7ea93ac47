import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, readdir } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The product as users install it: the packages packed with `pnpm pack`, installed into projects
// outside the workspace. Shared by test/install.test.ts and the host matrix (test/matrix).

export const REPO = fileURLToPath(new URL('../..', import.meta.url))
export const PACKAGES = ['core', 'vite', 'astro'] as const
export type PackageName = (typeof PACKAGES)[number]

/** `pnpm pack` of each package into `dir`: the tarball of each. */
export async function packTarballs(dir: string): Promise<Record<PackageName, string>> {
  await mkdir(dir, { recursive: true })
  const tarballs = {} as Record<PackageName, string>
  for (const name of PACKAGES) {
    const before = new Set(await readdir(dir))
    await pnpm(['pack', '--pack-destination', dir], join(REPO, 'packages', name))
    const made = (await readdir(dir)).filter((file) => !before.has(file) && file.endsWith('.tgz'))
    if (made.length !== 1) throw new Error(`pnpm pack of packages/${name} made ${made.length} tarballs`)
    tarballs[name] = join(dir, made[0] as string)
  }
  return tarballs
}

/**
 * A project's package.json naming the tarballs: `flux` are the adapters it depends on, core is its
 * dev dependency (the CLI, as the README has users add it), and our packages' own dependencies on
 * each other point at the tarballs, not the registry.
 */
export function packedManifest(
  name: string,
  tarballs: Record<PackageName, string>,
  dependencies: Record<string, string>,
  flux: PackageName[],
  build: string,
) {
  const file = (pkg: PackageName) => `file:${tarballs[pkg]}`
  const deps = { ...dependencies }
  for (const pkg of flux) deps[`@flux-images/${pkg}`] = file(pkg)
  return {
    name,
    private: true,
    type: 'module',
    scripts: { build },
    dependencies: deps,
    devDependencies: { '@flux-images/core': file('core') },
    pnpm: { overrides: { '@flux-images/core': file('core'), '@flux-images/vite': file('vite') } },
  }
}

/** A user's shell: no FLUX_* variable (the key is in .env only), this Node first on PATH. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: [dirname(process.execPath), process.env.PATH].join(delimiter),
    HOME: process.env.HOME,
    NO_COLOR: '1',
    ASTRO_TELEMETRY_DISABLED: '1',
    ...extra,
  }
}

export async function pnpm(args: string[], cwd: string) {
  const env = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith('FLUX_')) delete env[name]
  const run = await exec('pnpm', args, { cwd, env })
  if (run.code !== 0)
    throw new Error(`pnpm ${args.join(' ')} failed in ${cwd}:\n${run.stdout}\n${run.stderr}`)
  return run
}

export function exec(
  command: string,
  args: string[],
  { cwd, env }: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** The lowest version a package's peer range accepts (in `major`, if given): `^7.0.7 || ^8.0.2`, 7 -> `7.0.7`. */
export function floorOf(name: PackageName, peer: string, major?: number): string {
  const manifest = JSON.parse(readFileSync(join(REPO, 'packages', name, 'package.json'), 'utf8'))
  const range: string = manifest.peerDependencies?.[peer] ?? ''
  const floors = range.split('||').map((part) => part.trim().replace(/^[\^~]|^>=\s*/, ''))
  const floor = floors.find((v) => major === undefined || v.startsWith(`${major}.`))
  if (!floor || !/^\d+\.\d+\.\d+$/.test(floor)) throw new Error(`${name}: no floor in ${peer} "${range}"`)
  return floor
}
