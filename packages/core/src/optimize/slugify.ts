/** Longest slug kept in a file name: enough to recognise the image in a network panel. */
const MAX_SLUG_LENGTH = 32

/**
 * A short ASCII slug of a prompt for file names: accents dropped, lowercase, words joined by `-`,
 * cut at a word boundary. `image` when nothing is left (a prompt in another script).
 */
export function slugify(text: string, maxLength = MAX_SLUG_LENGTH): string {
  const words = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)
  let slug = ''
  for (const word of words) {
    const next = slug ? `${slug}-${word}` : word
    if (next.length > maxLength) {
      if (!slug) slug = word.slice(0, maxLength)
      break
    }
    slug = next
  }
  return slug || 'image'
}
