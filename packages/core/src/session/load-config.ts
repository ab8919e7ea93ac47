import { spawn } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { FluxError } from '../errors.js'
import type { FluxOptions } from '../options.js'

/** The configuration files looked for at the root, first found wins. */
export const CONFIG_FILES = ['flux.config.mjs', 'flux.config.js', 'flux.config.ts'] as const

/**
 * The root's `flux.config.{mjs,js,ts}` (its default export), or `{}` when there is none. Each call
 * imports the file as it is now (a dev server reloads it after an edit). A `.ts` file needs a Node
 * that strips types (22.18 and later).
 */
export async function loadConfig(root: string): Promise<{ config: FluxOptions; file?: string }> {
  for (const name of CONFIG_FILES) {
    const file = join(root, name)
    const stamp = await stat(file).then(
      (s) => (s.isFile() ? s.mtimeMs : undefined),
      () => undefined,
    )
    if (stamp === undefined) continue
    try {
      // The stamp in the URL: a file edited since the last import is imported anew.
      const mod = (await import(`${pathToFileURL(file).href}?t=${stamp}`)) as { default?: unknown }
      const config = mod.default ?? {}
      if (typeof config !== 'object' || config === null || Array.isArray(config)) {
        throw new Error('its default export is not an options object')
      }
      return { config: config as FluxOptions, file }
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause)
      const typescript = name.endsWith('.ts') && !(process.features as { typescript?: unknown }).typescript
      const at = (await locateConfigError(cause, file)) ?? { line: 1, column: 1 }
      throw new FluxError('FLUX_INVALID_OPTIONS', `Could not load ${name}: ${reason}`, {
        location: { file: name, ...at },
        hint: typescript
          ? `This Node (${process.version}) cannot import TypeScript: use Node 22.18 or later, or rename it flux.config.mjs.`
          : `Fix ${name} there: it must be a module that exports default an options object, such as export default { concurrency: 4 }`,
        cause,
      })
    }
  }
  return { config: {} }
}

type Position = { line: number; column: number }

/**
 * Where in the config file its import failed. A runtime error names the file in its stack
 * (`file:///.../flux.config.mjs?t=1:3:9`), a TypeScript syntax error has a code frame. A syntax
 * error in a JavaScript module has neither, so otherwise
 * the file is checked again in a child process, whose code frame has the line and, under it, a caret at the
 * column.
 */
export async function locateConfigError(cause: unknown, file: string): Promise<Position | undefined> {
  const stack = cause instanceof Error ? String(cause.stack) : ''
  // Node names the module by URL; a module runner (vitest, vite-node) by path.
  for (const name of [pathToFileURL(file).href, file]) {
    for (const line of stack.split('\n')) {
      // A stack frame: `    at <name>:L:C` or `    at fn (<name>:L:C)`, nothing else that quotes the path.
      const at = line.indexOf(name)
      const framed = at > 0 && /\s|\(/.test(line[at - 1] ?? '') && /^\s+at /.test(line)
      const frame = framed ? /^(?:\?t=[\d.]+)?:(\d+):(\d+)/.exec(line.slice(at + name.length)) : null
      if (frame) return { line: Number(frame[1]), column: Number(frame[2]) }
    }
  }
  // Node puts a code frame on a TypeScript syntax error.
  const framed = codeFrame(stack)
  if (framed) return framed
  // Not only on a SyntaxError: a module runner such as vitest's reports its parser's own error.
  const source = await readFile(file, 'utf8').catch(() => undefined)
  return source === undefined ? undefined : codeFrame(await checkSyntax(source, file.endsWith('.ts')))
}

/** `<name>:LINE\n<source lines>\n<spaces>^` (Node's code frame) -> the line and the caret's column. */
function codeFrame(text: string): Position | undefined {
  // The header is the first line; TypeScript's frame may show lines before the one with the caret.
  const match = /^[^\n]*:(\d+)\n(?:[^\n]*\n){1,5}?([ \t]*)\^/.exec(text)
  return match ? { line: Number(match[1]), column: (match[2] ?? '').length + 1 } : undefined
}

/**
 * Checks an ES module's source in a child process and returns what it wrote to stderr (only run
 * after an import failed). A `.ts` file's types are stripped first (into whitespace, so positions
 * hold; a TypeScript syntax error prints its own code frame), then `node --check` prints the frame
 * of a JavaScript syntax error. In a child: both print to stderr, and type stripping warns that it
 * is experimental.
 */
function checkSyntax(source: string, typescript: boolean): Promise<string> {
  const script = `
    import { spawnSync } from 'node:child_process'
    import { stripTypeScriptTypes } from 'node:module'
    let source = ''
    for await (const chunk of process.stdin) source += chunk
    let stripped
    try {
      stripped = ${typescript} ? stripTypeScriptTypes(source) : source
    } catch (err) {
      process.stderr.write(String(err.stack))
    }
    if (stripped !== undefined) {
      spawnSync(process.execPath, ['--input-type=module', '--check'], { input: stripped, stdio: ['pipe', 'ignore', 'inherit'] })
    }
  `
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: {},
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      // The code frame is in the first lines; the rest is Node's stack.
      if (stderr.length < 64 * 1024) stderr += chunk.toString()
    })
    child.on('error', () => resolve(''))
    child.on('close', () => resolve(stderr))
    child.stdin.on('error', () => {})
    child.stdin.end(source)
  })
}
