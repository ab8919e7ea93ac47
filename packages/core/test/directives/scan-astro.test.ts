import { describe, expect, it } from 'vitest'
import { scanAstro } from '../../src/directives/index.js'
import { checkLocations, prompts, rows } from './helpers.js'

const astro = (text: string) => {
  const result = scanAstro(text, 'page.astro')
  expect(checkLocations(text, 'page.astro', result)).toBeUndefined()
  expect(result.errors).toEqual([])
  return result
}

describe('scanAstro: missing and empty', () => {
  it('finds nothing in an empty component or one without directives', () => {
    expect(astro('').directives).toEqual([])
    expect(astro('---\nconst a = 1\n---\n<h1>{a}</h1>').directives).toEqual([])
  })
})

describe('scanAstro: valid', () => {
  it('reads imports in the frontmatter, images and components in the template', () => {
    const text = [
      '---',
      "import hero from 'flux:A hero?size=1536x1024'",
      "import { FluxImage } from '@flux-images/astro/components'",
      '---',
      '<img src="flux:A plain img" alt="Plain" />',
      '<FluxImage prompt="A lighthouse at dawn" size="1536x1024" model="flux-dev" quality="hd" seed="7" alt="LH" />',
      '<FluxImage',
      "  prompt='Multi line'",
      '  seed={42}',
      '  size={"1024x1024"}',
      '  class="wide"',
      '/>',
    ].join('\n')
    expect(rows(astro(text))).toEqual([
      ['import', 2, 19, 'A hero', { size: '1536x1024' }],
      ['html', 5, 11, 'A plain img', { alt: 'Plain' }],
      [
        'component',
        6,
        1,
        'A lighthouse at dawn',
        { model: 'flux-dev', size: '1536x1024', quality: 'hd', seed: '7', alt: 'LH' },
      ],
      ['component', 7, 1, 'Multi line', { seed: '42', size: '1024x1024' }],
    ])
  })

  it('takes the component prompt literally: no query, no percent-decoding', () => {
    expect(rows(astro('<FluxImage prompt="100%20 sure?size=1" />'))).toEqual([
      ['component', 1, 1, '100%20 sure?size=1', {}],
    ])
  })

  it('uses the alt for an empty prompt, and reads a backtick value without a substitution', () => {
    expect(rows(astro('<FluxImage prompt="" alt="From alt" />\n<FluxImage prompt=`tick` />'))).toEqual([
      ['component', 1, 1, 'From alt', { alt: 'From alt' }],
      ['component', 2, 1, 'tick', {}],
    ])
  })

  it('reads images inside expressions and inline scripts', () => {
    const text = '{show && <img src="flux:in expression" />}\n<script>import a from "flux:client"</script>'
    expect(prompts(astro(text))).toEqual(['in expression', 'client'])
  })
})

describe('scanAstro: skipped', () => {
  it('skips components whose prompt or a picture option is not static, or that spread props', () => {
    const text = [
      '<FluxImage prompt={prompt} />',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Astro source under test
      '<FluxImage prompt={`a ${b}`} />',
      '<FluxImage prompt="ok" size={size} />',
      '<FluxImage prompt="ok" {...props} />',
      '<FluxImage size="1024x1024" />',
      '<FluxImage prompt />',
    ].join('\n')
    expect(astro(text).directives).toEqual([])
  })

  it('keeps a component whose only dynamic attribute is alt, without the alt', () => {
    expect(rows(astro('<FluxImage prompt="p" alt={alt} class:list={["a", { b: c > d }]} />'))).toEqual([
      ['component', 1, 1, 'p', {}],
    ])
  })

  it('skips JSX comments and HTML comments in the template, and comments in the frontmatter', () => {
    const text =
      '---\n// import a from \'flux:a\'\n---\n{/* <img src="flux:b"> */}<!-- <FluxImage prompt="c" /> -->'
    expect(astro(text).directives).toEqual([])
  })

  it('does not confuse the closing fence with `---` inside the script', () => {
    const text = '---\nconst s = \'x\'\n  ---\n<img src="flux:after">'
    expect(prompts(astro(text))).toEqual(['after'])
  })
})
