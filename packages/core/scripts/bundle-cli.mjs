// The `flux-images` command as two files instead of some 350 modules: dist/cli/bin.js and
// dist/cli/main.js are built from src/cli/ (replacing tsc's copies) with everything they load, our
// code and our dependencies. Resolving and linking the modules one by one was most of the CLI's
// start-up: importing it and undici took 270-320 ms of CPU, 55-95 ms bundled (BENCHMARKS.md,
// section 14). What a command loads lazily (undici, the report, the shared cache's libraries) still
// runs only when needed, but is compiled with the rest: esbuild's code splitting would keep it in
// chunks of its own, but a CommonJS package split off (undici) then loses its named exports. sharp
// stays outside (a native addon), and so does yaml (reached through `createRequire`). The library
// entries (`@flux-images/core`, `/dev`, `/runtime`) are not bundled: a host shares their
// dependencies.
//
//   node scripts/bundle-cli.mjs   (after tsc; the root `pnpm build` runs it)
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decode, encode } from '@jridgewell/sourcemap-codec'
import { build } from 'esbuild'

const PACKAGE = fileURLToPath(new URL('..', import.meta.url))
const CLI = join(PACKAGE, 'dist/cli')

const { metafile } = await build({
  absWorkingDir: PACKAGE,
  // bin.js enables Node's compile cache before it loads main.js, so main.js stays its own file.
  entryPoints: ['src/cli/bin.ts', 'src/cli/main.ts'],
  outdir: CLI,
  allowOverwrite: true,
  bundle: true,
  external: ['./main.js', 'sharp'],
  format: 'esm',
  platform: 'node',
  target: 'node22',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies bundled into ESM call `require` for Node's own modules.
  banner: {
    js: "import { createRequire as __fluxRequire } from 'node:module';const require = __fluxRequire(import.meta.url);",
  },
})

for (const file of Object.keys(metafile.outputs))
  if (file.endsWith('.map')) await ownSourcesOnly(join(PACKAGE, file))

// The licences of the dependencies the bundle carries, as their packages ship them.
const packages = new Map()
for (const input of Object.keys(metafile.inputs)) {
  const match = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(input)
  if (match) packages.set(match[2], join(PACKAGE, match[1]))
}
const notices = []
for (const [name, dir] of [...packages].sort(([a], [b]) => a.localeCompare(b))) {
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'))
  const author = typeof manifest.author === 'object' ? manifest.author.name : manifest.author
  const license =
    (await readLicense(dir)) ?? `${manifest.license}, by ${author} (the package ships no licence text).`
  notices.push(`## ${name} ${manifest.version} (${manifest.license})\n\n${license.trim()}\n`)
}
await writeFile(
  join(CLI, 'THIRD-PARTY-LICENSES.md'),
  `# Licences of the code bundled into the flux-images command (dist/cli)\n\n${notices.join('\n')}`,
)

async function readLicense(dir) {
  for (const file of ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license', 'LICENCE']) {
    try {
      return await readFile(join(dir, file), 'utf8')
    } catch {}
  }
  return undefined
}

/**
 * Keeps in a map only what leads to our sources (src/ ships in the package): segments of a
 * dependency's code keep their place in the bundle but lose their source, so no path into this
 * checkout's node_modules ends up in the package.
 */
async function ownSourcesOnly(file) {
  const map = JSON.parse(await readFile(file, 'utf8'))
  // A kept source's new index; undefined for a dependency's.
  const index = []
  let next = 0
  for (const [i, source] of map.sources.entries()) if (!source.includes('/node_modules/')) index[i] = next++
  const lines = decode(map.mappings).map((line) =>
    line.map((segment) =>
      segment.length === 1 || index[segment[1]] === undefined
        ? [segment[0]]
        : [segment[0], index[segment[1]], ...segment.slice(2)],
    ),
  )
  map.sourcesContent = map.sourcesContent?.filter((_, i) => index[i] !== undefined)
  map.sources = map.sources.filter((_, i) => index[i] !== undefined)
  map.mappings = encode(lines)
  await writeFile(file, JSON.stringify(map))
}
