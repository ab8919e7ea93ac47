import type { DirectiveParams, Session } from '@flux-images/core'

/**
 * The file Astro's pipeline reads for a directive: the cached original once it exists; while an
 * image is pending in dev (or drawn locally, with no key), its largest fallback variant, which the
 * session hands out under the dev policy (the page reloads when the real one arrives).
 */
export async function imageFile(
  session: Session,
  input: { prompt: string; params: DirectiveParams },
): Promise<string> {
  if ((await session.flux.status(input)) === 'cached') return (await session.flux.resolve(input)).entry.path
  const shown = await session.image(input)
  const fallback = shown.files.filter((f) => f.format === 'jpeg' || f.format === 'png')
  return fallback.reduce((a, b) => (b.width > a.width ? b : a)).path
}
