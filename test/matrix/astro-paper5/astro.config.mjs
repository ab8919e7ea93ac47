// @ts-check
// AstroPaper's astro.config at its Astro 5 release (5.2.0), after `astro add @flux-images/astro`:
// its sitemap, its markdown set-up (remark-toc, remark-collapse, Shiki's themes); Tailwind left
// out. The key and the gateway come from .env.
import sitemap from '@astrojs/sitemap'
import flux from '@flux-images/astro'
import { defineConfig } from 'astro/config'
import remarkCollapse from 'remark-collapse'
import remarkToc from 'remark-toc'
import { SITE } from './src/config.mjs'

export default defineConfig({
  site: SITE.website,
  integrations: [sitemap(), flux()],
  markdown: {
    remarkPlugins: [remarkToc, [remarkCollapse, { test: 'Table of contents' }]],
    shikiConfig: {
      themes: { light: 'min-light', dark: 'night-owl' },
      wrap: true,
    },
  },
})
