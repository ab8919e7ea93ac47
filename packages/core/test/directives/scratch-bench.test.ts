import { it } from 'vitest'
import * as d from '../../src/directives/index.js'

const SIZE = Number(process.env.SIZE ?? 100_000)
const fill = (unit: string) => unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE)
const UNITS = [
  '![', '[', ']', '(', ')', '![a](flux:(', '![a](<', '![a](<flux:x> "', '![a](<flux:x> (', '![a](flux:a', '](', '![a](flux:a)',
  '`', '` ', '<!--', '-->', '<img ', '<img a="', "<img a='x' ", '<img src="flux:', '<img src=flux:a ', '\\', '\\`',
  '- ', '> ', '1. ', '    ', '\t', '```\n', '~~~~\n', '- ```\n', '<div>\n', '<pre>\n', '{/*', '<FluxImage a={',
  '<FluxImage prompt="a" ', '/', '(/', "'", '"', '`${', '${`', 'import(', 'import ', 'from ', "from 'flux:", '/*', '//',
  '<a ', '<script>', '</', '<!', '<a b="', '{', '}', '[[', 'a: ', '- - ', '? ', '"', '&', '%', '%E9', '?', '?a=&',
  '?size=1&', 'flux:', 'flux:?', '\r', '\r\n', '\n', '\n\n', ' ', '---\n', 'import x from "flux:a"\n', '<img src="flux:a">',
  '![x](flux:a b c) ', '*', '_', '#', '|', '=', '<', '>', 'é', '😀', '\u0000', '\\\n', '\\\\', '![a]', '![a][b]',
]
const backtickLadder = (() => { let s = ''; for (let n = 1; s.length < SIZE; n++) s += '`'.repeat(n) + ' x ' ; return s })()
const nestedLists = (() => { let s = ''; for (let n = 0; s.length < SIZE; n++) s += ' '.repeat(n % 400) + '- a\n'; return s })()
const inputs = [...UNITS.map(fill), backtickLadder, nestedLists, 'a'.repeat(SIZE), `flux:${'?'.repeat(SIZE)}`]
const scanners: [string, (t: string) => unknown][] = [
  ['md', (t) => d.scanMarkdown(t, 'a.md')],
  ['mdx', (t) => d.scanMarkdown(t, 'a.mdx')],
  ['fm', (t) => d.scanFrontmatter(`---\n${t}\n---\n`, 'a.md')],
  ['html', (t) => d.scanHtml(t, 'a.html')],
  ['code', (t) => d.scanCode(t, 'a.ts')],
  ['astro', (t) => d.scanAstro(t, 'a.astro')],
  ['svelte', (t) => d.scanSource('a.svelte', t)],
  ['parse', (t) => d.parseDirective(`flux:${t}`)],
]
it('bench', () => {
  const slow: string[] = []
  for (const [name, scan] of scanners) {
    for (const input of inputs) {
      const t0 = performance.now()
      scan(input)
      const ms = performance.now() - t0
      if (ms > Number(process.env.SLOW ?? 30)) slow.push(`${name} ${JSON.stringify(input.slice(0, 20))} ${ms.toFixed(0)}ms`)
    }
  }
  console.log(slow.join('\n'))
}, 600_000)
