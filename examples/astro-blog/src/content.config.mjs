import { defineCollection } from 'astro:content'
import { fluxImage } from '@flux-images/astro/schema'
import { glob } from 'astro/loaders'
import { z } from 'astro/zod'

const posts = defineCollection({
  loader: glob({ pattern: '**/*.{md,mdx}', base: './src/content/posts' }),
  schema: z.object({
    title: z.string(),
    date: z.coerce.date(),
    description: z.string(),
    // "flux: prompt?size=..." or { flux, size, alt, ... }: becomes the generated image's metadata.
    hero: fluxImage(),
  }),
})

export const collections = { posts }
