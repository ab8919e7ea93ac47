import { describe, expect, it } from 'vitest'
import { scanCode } from '../../src/directives/index.js'
import { checkLocations, prompts, rows } from './helpers.js'

const code = (text: string) => {
  const result = scanCode(text, 'main.ts')
  expect(checkLocations(text, 'main.ts', result)).toBeUndefined()
  expect(result.errors).toEqual([])
  return result
}

describe('scanCode: missing and empty', () => {
  it('finds nothing in empty code or code without flux imports', () => {
    expect(code('').directives).toEqual([])
    expect(
      code("import a from './a.js'\nconst b = 'flux:not an import'\nfoo('flux:x')\n").directives,
    ).toEqual([])
  })

  it('does not take a type declaration for an import', () => {
    expect(code("declare module 'flux:*' { const v: string; export default v }").directives).toEqual([])
  })
})

describe('scanCode: valid', () => {
  it('reads every import form, in all three quote styles', () => {
    const text = [
      "import hero from 'flux:A neon-lit city?size=1344x768&model=flux-schnell'",
      'import "flux:side effect"',
      'const lazy = await import(`flux:dynamic`)',
      "export { default as x } from 'flux:re-exported'",
      "export * from 'flux:star'",
      "import img from 'flux:with attributes' with { type: 'json' }",
      "const opts = import('flux:with options', { with: {} })",
    ].join('\n')
    expect(rows(code(text))).toEqual([
      ['import', 1, 19, 'A neon-lit city', { size: '1344x768', model: 'flux-schnell' }],
      ['import', 2, 9, 'side effect', {}],
      ['import', 3, 28, 'dynamic', {}],
      ['import', 4, 31, 're-exported', {}],
      ['import', 5, 16, 'star', {}],
      ['import', 6, 18, 'with attributes', {}],
      ['import', 7, 22, 'with options', {}],
    ])
  })

  it('reads imports spread over lines', () => {
    expect(rows(code('import {\n  a,\n  b,\n} from\n  "flux:multi"'))).toEqual([
      ['import', 5, 4, 'multi', {}],
    ])
  })

  it('cooks string escapes and keeps the literal as written in raw', () => {
    const result = code("import a from 'flux:it\\'s a \\u{1F600} \\x41'")
    expect(prompts(result)).toEqual(["it's a 😀 A"])
    expect(result.directives[0]?.raw).toBe("flux:it\\'s a \\u{1F600} \\x41")
  })
})

describe('scanCode: skipped', () => {
  it('skips comments', () => {
    const text =
      "// import a from 'flux:a'\n/* import b from 'flux:b'\n*/ /** import('flux:c') */ import d from 'flux:d'"
    expect(prompts(code(text))).toEqual(['d'])
  })

  it('skips strings, regular expressions and template literals that only look like imports', () => {
    const text = [
      'const s = "import a from \'flux:a\'"',
      "const r = /import b from 'flux:b'/g",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: JS source under test
      "const t = `import c from 'flux:c' ${x} import d from 'flux:d'`",
      "const u = a / 2; import e from 'flux:e'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: JS source under test
      'import(`flux:${dynamic}`)',
      "x.import('flux:f'); y.from('flux:g')",
    ].join('\n')
    expect(prompts(code(text))).toEqual(['e'])
  })

  it('tracks nested template literals', () => {
    const text =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: JS source under test
      "const t = `a ${`b ${c} import x from 'flux:no'`} import y from 'flux:no'`; import z from 'flux:yes'"
    expect(prompts(code(text))).toEqual(['yes'])
  })

  it('requires the id to start with the scheme', () => {
    expect(code("import a from ' flux:a'; import b from 'FLUX:b'").directives).toEqual([])
  })
})

describe('scanCode: invalid', () => {
  it('survives unterminated strings, comments, regexes and templates', () => {
    expect(prompts(code("const a = 'unterminated\nimport b from 'flux:b'"))).toEqual(['b'])
    expect(prompts(code("const r = (/unterminated\nimport c from 'flux:c'"))).toEqual(['c'])
    expect(code("import a from 'flux:a").directives).toEqual([])
    expect(code('/* never closed import a from "flux:a"').directives).toEqual([])
    expect(code('`never closed import a from "flux:a"').directives).toEqual([])
  })
  it('skips type-only imports, which TypeScript erases (regression: `import type` of the ambient module)', () => {
    const text = [
      "import type { FluxImage } from 'flux:*'",
      "export type { X } from 'flux:also erased'",
      "import type from 'flux:a default import named type'",
      "import hero from 'flux:a real one'",
    ].join('\n')
    const { directives } = scanCode(text, 'a.ts')
    expect(directives.map((d) => d.prompt)).toEqual(['a default import named type', 'a real one'])
  })
})
