import mdx from '@astrojs/mdx'
import { flux } from '@flux-images/astro'
import { defineConfig } from 'astro/config'

// Without FLUX_API_KEY (and FLUX_BASE_URL) the images are local placeholders, so this builds offline.
export default defineConfig({
  integrations: [mdx(), flux()],
})
