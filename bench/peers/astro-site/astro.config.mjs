// astro:assets as a new site gets it: the default (sharp) image service, its default settings.
import { defineConfig } from 'astro/config'

export default defineConfig({})
