// @11ty/eleventy-img from a plain script, as its documentation shows: one `Image()` call per
// source, all at once (its own queue bounds the work), sharp's default encoder options.
//
//   node eleventy.mjs <sources.json> <outDir>
//
// minimumThreshold 1: at its default 1.25, a 1024 px source would not get its 1024 output (it
// only adds the original's width when it exceeds the next smaller width by 25%).
import { readFile } from 'node:fs/promises'
import Image from '@11ty/eleventy-img'

const [sourcesFile, outputDir] = process.argv.slice(2)
const sources = JSON.parse(await readFile(sourcesFile, 'utf8'))
await Promise.all(
  sources.map((source) =>
    Image(source.path, {
      widths: [480, 960, 1440],
      formats: ['avif', 'webp', 'png'],
      outputDir,
      minimumThreshold: 1,
      // Names the files after their source; the bytes do not depend on it.
      filenameFormat: (_id, _src, width, format) => `${source.name}-${width}.${format}`,
    }),
  ),
)
