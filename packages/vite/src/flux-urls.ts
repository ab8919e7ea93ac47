import type { Session } from '@flux-images/core'
import type { Plugin } from 'vite'

const PREFIX = '\0flux-url:'

/**
 * The URL of an image file flux serves, when a compiler imports it: Vue's (VitePress's markdown
 * pages too) turns every static `src`/`srcset` URL into an import, which would find no such file
 * in the project. The import's value is the URL itself.
 */
export function fluxUrls(session: () => Session): Plugin {
  return {
    name: 'flux-images:urls',
    // No filter: the files' folder (`image.publicPath`) is the user's to choose.
    resolveId(id) {
      return session().files.has(id) ? PREFIX + id : undefined
    },
    load: {
      filter: { id: /^\0flux-url:/ },
      handler(id) {
        return `export default ${JSON.stringify(id.slice(PREFIX.length))}`
      },
    },
  }
}
