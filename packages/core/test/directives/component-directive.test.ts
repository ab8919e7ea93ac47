import { describe, expect, it } from 'vitest'
import { componentDirective } from '../../src/directives/html/component-directive.js'
import { scanAstro } from '../../src/directives/index.js'

// <FluxImage>'s request is read twice: by the build's scan from the template's static attributes,
// and by the component from its props as it renders. Both read through componentDirective, so a
// render finds the image the build made instead of asking for another.
describe('componentDirective: the scan and the render read the same props', () => {
  const props = { prompt: '  A cat on a mat ', size: ' 1536x1024 ', seed: 42, alt: ' A cat ', ref: './a.png' }

  it('trims the prompt and each option, leaves `ref` out, and takes `alt` as an image alt', () => {
    expect(componentDirective(props)).toEqual({
      prompt: 'A cat on a mat',
      params: { size: '1536x1024', seed: '42', alt: 'A cat' },
    })
  })

  it('is what the scanner records for the same attributes', () => {
    const tag =
      '<FluxImage prompt="  A cat on a mat " size=" 1536x1024 " seed={42} alt=" A cat " ref="./a.png" />'
    const [found] = scanAstro(tag, 'page.astro').directives
    expect({ prompt: found?.prompt, params: found?.params }).toEqual(componentDirective(props))
  })

  it('fills an empty prompt with the alt, and is undefined without a prompt', () => {
    expect(componentDirective({ prompt: '', alt: 'A dog' })).toEqual({
      prompt: 'A dog',
      params: { alt: 'A dog' },
    })
    expect(componentDirective({ size: '1024x1024' })).toBeUndefined()
  })
})
