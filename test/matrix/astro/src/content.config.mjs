import { defineCollection } from 'astro:content'
import { fluxImage } from '@flux-images/astro/schema'
import { glob } from 'astro/loaders'
import { z } from 'astro/zod'

const blog = defineCollection({
  loader: glob({ base: './src/content/blog', pattern: '**/*.{md,mdx}' }),
  schema: z.object({ title: z.string(), heroImage: fluxImage().optional() }),
})

export const collections = { blog }
