#!/usr/bin/env node
// The `flux-images` command. The package's bin is this committed file, not the build's
// dist/cli/bin.js: pnpm links a workspace package's bins when it installs, before the first build
// has made dist/, and does not link them again, so on a fresh clone the command was missing.
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli/bin.js', import.meta.url)
if (!existsSync(cli)) {
  // Only in a source checkout: the published package always carries dist/.
  process.stderr.write('[flux] flux-images is not built yet: run `pnpm build` in the repository first.\n')
  process.exit(1)
}
await import(cli.href)
