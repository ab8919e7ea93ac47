import type { IncomingMessage, ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import { FluxError } from '../errors.js'
import type { Logger } from '../types.js'

// The parts of Vite's plugin API and dev server that the dev plugins use, as shapes of core's
// own: core imports no host, and both adapters hand these plugins to Vite (Astro through its config).

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void

/** A failure in Rollup's form: Vite prints its place and its error overlay points at it. */
export interface HostError extends Error {
  id?: string
  loc?: { file?: string; line: number; column: number }
  errors?: unknown[]
}

/** An environment's module graph (Vite's `EnvironmentModuleGraph`). */
export interface DevModuleGraph {
  getModulesByFile(file: string): Iterable<object> | undefined
  idToModuleMap: Map<string, object>
  invalidateModule(mod: object): void
}

/** One of the dev server's environments (client, ssr, …). */
export interface DevEnvironment {
  moduleGraph: DevModuleGraph
  hot: { send(payload: { type: 'full-reload' }): void }
}

export interface DevServer {
  middlewares: { use(middleware: Middleware): unknown }
  config: {
    logger: { info(message: string): void; warn(message: string): void; error(message: string): void }
    webSocketToken: string
  }
  environments: Record<string, DevEnvironment> & { client: DevEnvironment }
  ws: {
    on(
      event: string,
      listener: (data: unknown, client: { send(event: string, payload: unknown): void }) => void,
    ): void
  }
}

type IdFilter = RegExp | { exclude?: RegExp[] }
type HtmlTag = { tag: string; attrs: Record<string, string>; children: string; injectTo: 'head' | 'body' }

/** A Vite plugin, as far as core's dev plugins fill it in. */
export interface DevPlugin {
  name: string
  apply?: 'serve'
  configResolved?(config: { root: string; base: string }): void
  configureServer?: ((server: DevServer) => void) | { order: 'pre'; handler(server: DevServer): void }
  transform?: {
    order: 'pre'
    filter: { id: IdFilter; code: RegExp }
    handler(code: string, id: string): undefined
  }
  resolveId?: {
    filter: { id: RegExp }
    handler(spec: string, importer: string | undefined): string | undefined
  }
  load?: {
    filter: { id: RegExp }
    handler(this: { error(err: HostError): never }, id: string): Promise<string | undefined>
  }
  transformIndexHtml?: { order: 'pre'; handler(): HtmlTag[] | undefined }
}

/** A host's logger that labels lines itself (Astro's): core's own `[flux] ` prefix would say it twice. */
export function plainLogger(host: Required<Logger>): Logger {
  const plain = (message: string) => message.replace(/^\[flux\] /, '')
  return {
    info: (m) => host.info(plain(m)),
    warn: (m) => host.warn(plain(m)),
    error: (m) => host.error(plain(m)),
    debug: (m) => host.debug(plain(m)),
  }
}

/**
 * The error with `loc` (an absolute file, a 1-based line and column) on each located FluxError in
 * it (one, or an AggregateError's), in place: what Astro reads to point at the directive, in the
 * terminal and the overlay (Rollup's form, with a new error, is `hostError`). Without it Astro
 * guesses a place from the first line of the stack that mentions `src`, which, for a message
 * listing directives, is garbled.
 */
export function withLoc<E>(err: E, root: string): E {
  const errors = err instanceof AggregateError ? err.errors : [err]
  for (const e of errors) {
    if (!FluxError.is(e) || !e.location) continue
    const { file, line, column } = e.location
    Object.assign(e, { loc: { file: resolve(root, file), line: line ?? 1, column: column ?? 1 } })
  }
  return err
}
