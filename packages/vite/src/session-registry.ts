import { relative } from 'node:path'
import type { Session } from '@flux-images/core'

// The markdown plugins (mdsvex's remark, VitePress's markdown-it) are configured apart from the
// Vite plugin, and their host may load this module more than once: the sessions live on
// globalThis, by project root, so each plugin finds the one `flux()` made for its file.
const KEY = Symbol.for('@flux-images/vite.sessions')
type Holder = { [KEY]?: Set<Session> }
const sessions = () => ((globalThis as Holder)[KEY] ??= new Set())

/** The session `flux()` runs for its project, until it closes. */
export function registerSession(session: Session): () => void {
  sessions().add(session)
  return () => sessions().delete(session)
}

/**
 * The session of the project holding `file` (the innermost root; the latest of a root when a
 * host runs builds inside one another). Throws when no `flux()` runs for it.
 */
export function sessionFor(file: string): Session {
  let found: Session | undefined
  for (const session of sessions()) {
    const path = relative(session.options.root, file)
    const inside = !path.startsWith('..') && !/^([a-z]:|[\\/])/i.test(path)
    if (inside && (!found || session.options.root.length >= found.options.root.length)) found = session
  }
  if (found) return found
  throw new Error(
    `[flux] ${file} holds flux: images, but no flux-images plugin runs for its project: add flux() from @flux-images/vite to the Vite plugins (SvelteKit: vite.config, beside sveltekit(); VitePress: the config's vite.plugins).`,
  )
}
