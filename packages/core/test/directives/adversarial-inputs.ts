/**
 * Inputs that stress one part of a scanner each, shared by the adversarial tests (every scanner
 * finishes on them, with its locations right) and by the benchmark that times them
 * (`pnpm bench scanners`, in BENCHMARKS.md): speed is measured there, not in a test.
 */

// A quadratic step on 100 KB costs seconds; linear scanners take a few milliseconds.
export const SIZE = 100_000

export const fill = (unit: string, size = SIZE) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size)

// Units that each stress one part of a scanner when repeated: openers without closers,
// closers without openers, nesting, escapes, fences, tags, comments, quotes, line endings.
const UNITS = [
  '![',
  '[',
  ']',
  '(',
  ')',
  '![a](flux:(',
  '![a](<',
  '![a](<flux:x> "',
  '![a](<flux:x> (',
  '![a](flux:a',
  '](',
  '![a](flux:a)',
  '`',
  '` ',
  '<!--',
  '-->',
  '<img ',
  '<img a="',
  "<img a='x' ",
  '<img src="flux:',
  '<img src=flux:a ',
  '\\',
  '\\`',
  '- ',
  '> ',
  '1. ',
  '    ',
  '\t',
  '```\n',
  '~~~~\n',
  '- ```\n',
  '<div>\n',
  '<pre>\n',
  '{/*',
  '<FluxImage a={',
  '<FluxImage prompt="a" ',
  '/',
  '(/',
  "'",
  '"',
  '`${',
  '${`',
  'import(',
  'import ',
  "from 'flux:",
  '/*',
  '//',
  '<a ',
  '<script>',
  '</',
  '<!',
  '<a b="',
  '{',
  '}',
  'a: ',
  '- - ',
  '? ',
  '&',
  '%',
  '%E9',
  '?',
  '?a=&',
  '?size=1&',
  'flux:',
  '\r',
  '\r\n',
  '\n',
  '\n\n',
  '---\n',
  'import x from "flux:a"\n',
  '<img src="flux:a">',
  '![x](flux:a b c) ',
  '*',
  '&amp;',
]

export function ladder(step: (n: number) => string): string {
  let text = ''
  for (let n = 1; text.length < SIZE; n++) text += step(n)
  return text.slice(0, SIZE)
}

export const INPUTS: [string, string][] = [
  ...UNITS.map((u): [string, string] => [`${JSON.stringify(u)} repeated`, fill(u)]),
  ['one 100k-character line', 'a'.repeat(SIZE)],
  ['one 100k-character typed directive', `![x](flux:${'a '.repeat(SIZE / 2)})`],
  ['backtick runs of every length', ladder((n) => `${'`'.repeat(n)} x `)],
  ['list items indented ever deeper', ladder((n) => `${' '.repeat(n % 300)}- a\n`)],
  ['block quotes nested ever deeper', ladder((n) => `${'> '.repeat(n % 200)}a\n`)],
  ['brackets nested 50k deep', `${'['.repeat(SIZE / 2)}${']'.repeat(SIZE / 2)}`],
  ['parentheses nested 50k deep', `![a](flux:${'('.repeat(SIZE / 2 - 10)}${')'.repeat(SIZE / 2 - 10)})`],
]

// The yaml package parses about 1.5 µs per character: YAML inputs are 20 KB.
export const YAML_SIZE = 20_000
export const YAML_INPUTS: [string, string][] = [
  ...[
    '[',
    '{',
    ']',
    '}',
    '- ',
    '? ',
    '- [',
    'a: {',
    '"',
    "'",
    '![a]',
    'a: ',
    'a:\n',
    '&a ',
    '*a ',
    '|\n',
    '\t',
    '#',
    '- ```\n',
  ].map((u): [string, string] => [`${JSON.stringify(u)} repeated`, fill(u, YAML_SIZE)]),
  ['an indentation ladder', ladder((n) => `${' '.repeat(n % 150)}k${n}:\n`).slice(0, YAML_SIZE)],
  ['nested sequences', ladder((n) => `${'  '.repeat(n % 120)}- "flux: ${n}"\n`).slice(0, YAML_SIZE)],
  ['many directives', ladder((n) => `k${n}: "flux: prompt ${n}?seed=${n}"\n`).slice(0, YAML_SIZE)],
  ['one long line', `title: ${'a'.repeat(YAML_SIZE)}`],
]
