import mdx from '@astrojs/mdx'
import flux from '@flux-images/astro'
import { defineConfig } from 'astro/config'

export default defineConfig({
  site: 'https://example.com',
  integrations: [mdx(), flux()],
})
