import { createHash } from 'node:crypto'
import { pickCanonical } from '../cache/request-key.js'
import { fluxError } from '../errors.js'
import { loadSharp } from '../sharp.js'
import type { CanonicalRequest, GeneratedImage, Provider } from '../types.js'

/** Larger sides are refused: a placeholder this big is a typo, and sharp would allocate for it. */
const MAX_SIDE = 8192
// Drawn small (this many pixels on the short side, give or take an integer scale) then enlarged
// with nearest-neighbour: blocky edges look deliberate, and 1536x1024 takes about 10 ms.
const DRAW_SHORT_SIDE = 256
/** Diagonal stripes: period and dark band width, in drawing pixels. */
const STRIPE_PERIOD = 16
const STRIPE_WIDTH = 8

/**
 * A local, offline image source for builds without an API key. Each image is a PNG of exactly the
 * requested size: a diagonal gradient in colours derived from the request's hash, subtle stripes,
 * a border, the first words of the prompt and "PLACEHOLDER" with the size. The same request always gives the same
 * bytes (no time in the file); different prompts give visibly different colours.
 */
export function createPlaceholderProvider(): Provider {
  return {
    name: 'placeholder',
    placeholder: true,
    async generate(request, ctx = {}): Promise<GeneratedImage> {
      ctx.signal?.throwIfAborted()
      const { width, height } = parseSize(request.size)
      const bytes = await renderPlaceholder(request, width, height)
      return { bytes, format: 'png', width, height, created: Math.floor(Date.now() / 1000) }
    },
  }
}

function parseSize(size: string): { width: number; height: number } {
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(size)
  const width = Number(match?.[1])
  const height = Number(match?.[2])
  if (!match || !(width >= 1 && width <= MAX_SIDE && height >= 1 && height <= MAX_SIDE)) {
    throw fluxError('FLUX_INVALID_OPTION_VALUE', {
      key: 'size',
      value: size,
      expected: `WIDTHxHEIGHT with sides from 1 to ${MAX_SIDE}, e.g. 1024x1024`,
    })
  }
  return { width, height }
}

async function renderPlaceholder(request: CanonicalRequest, width: number, height: number): Promise<Buffer> {
  const scale = Math.max(1, Math.floor(Math.min(width, height) / DRAW_SHORT_SIDE))
  const w = Math.ceil(width / scale)
  const h = Math.ceil(height / scale)
  const pixels = Buffer.alloc(w * h * 3)
  const seed = createHash('sha256')
    .update(JSON.stringify(pickCanonical(request)))
    .digest()
  const hue = ((seed[0] ?? 0) * 256 + (seed[1] ?? 0)) % 360
  const from = hsl(hue, 0.55, 0.62)
  const to = hsl((hue + 50 + ((seed[2] ?? 0) % 90)) % 360, 0.5, 0.34)

  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = (x / w + y / h) / 2
      const border = x === 0 || y === 0 || x === w - 1 || y === h - 1
      const shade = border ? 0.6 : (x + y) % STRIPE_PERIOD < STRIPE_WIDTH ? 0.93 : 1
      const i = (y * w + x) * 3
      for (let c = 0; c < 3; c++)
        pixels[i + c] = ((from[c] ?? 0) + ((to[c] ?? 0) - (from[c] ?? 0)) * t) * shade
    }
  }
  // The first words of its prompt, so a page of pending images still reads.
  drawLabel(pixels, w, h, [labelOf(request.prompt), `PLACEHOLDER ${width}x${height}`])

  const sharp = await loadSharp()
  return sharp(pixels, { raw: { width: w, height: h, channels: 3 } })
    .resize(width, height, { kernel: 'nearest', fit: 'fill' })
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer()
}

/** Longest label drawn, in characters: a few words, large enough to read on a thumbnail. */
const LABEL_CHARS = 24

/** The prompt's first words in the font's characters (upper case; others become spaces), cut at a word. */
export function labelOf(prompt: string): string {
  const plain = prompt
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toUpperCase()
    .replace(/[^A-Z0-9 ,.'-]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  if (plain.length <= LABEL_CHARS) return plain || 'FLUX'
  const cut = plain.slice(0, LABEL_CHARS - 3)
  const word = plain[cut.length] === ' ' ? cut.length : cut.lastIndexOf(' ')
  return `${(word > 8 ? cut.slice(0, word) : cut).replace(/[ ,.'-]+$/, '')}...`
}

/** Centred lines of text on a darkened panel; the second line at half the first's size. */
function drawLabel(pixels: Buffer, w: number, h: number, [title, subtitle]: [string, string]): void {
  const titleCols = title.length * 6 - 1
  const subtitleCols = subtitle.length * 6 - 1
  const widest = Math.max(titleCols, subtitleCols / 2)
  const big = Math.min(Math.floor((w * 0.8) / widest), Math.floor((h * 0.18) / 7))
  if (big < 1) return // too small for text: the colours and stripes still say "placeholder"
  const small = Math.max(1, Math.floor(big / 2))
  const pad = 3 * big
  const panelW = Math.max(titleCols * big, subtitleCols * small) + 2 * pad
  const panelH = 7 * big + 7 * small + 3 * pad
  const left = Math.floor((w - panelW) / 2)
  const top = Math.floor((h - panelH) / 2)
  for (let y = Math.max(0, top); y < Math.min(h, top + panelH); y++) {
    for (let x = Math.max(0, left); x < Math.min(w, left + panelW); x++) {
      const i = (y * w + x) * 3
      for (let c = 0; c < 3; c++) pixels[i + c] = (pixels[i + c] ?? 0) * 0.45
    }
  }
  drawText(pixels, w, h, title, Math.floor((w - titleCols * big) / 2), top + pad, big)
  drawText(pixels, w, h, subtitle, Math.floor((w - subtitleCols * small) / 2), top + 2 * pad + 7 * big, small)
}

function drawText(
  pixels: Buffer,
  w: number,
  h: number,
  text: string,
  x0: number,
  y0: number,
  size: number,
): void {
  for (const [n, char] of [...text].entries()) {
    const rows = GLYPHS[char] ?? GLYPHS[' '] ?? []
    for (const [row, bits] of rows.entries()) {
      for (let col = 0; col < 5; col++) {
        if (bits[col] !== '#') continue
        for (let dy = 0; dy < size; dy++) {
          for (let dx = 0; dx < size; dx++) {
            const x = x0 + (n * 6 + col) * size + dx
            const y = y0 + row * size + dy
            if (x >= 0 && y >= 0 && x < w && y < h) pixels.fill(245, (y * w + x) * 3, (y * w + x) * 3 + 3)
          }
        }
      }
    }
  }
}

/** RGB (0-255) of a colour given as hue (degrees), saturation and lightness (0-1). */
function hsl(hue: number, s: number, l: number): [number, number, number] {
  const a = s * Math.min(l, 1 - l)
  const f = (n: number) => {
    const k = (n + hue / 30) % 12
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))))
  }
  return [f(0), f(8), f(4)]
}

// A 5x7 bitmap font with just the characters of the label: drawn by us, so the bytes do not
// depend on the fonts installed on the machine.
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
  ',': ['.....', '.....', '.....', '.....', '.##..', '..#..', '.#...'],
  '.': ['.....', '.....', '.....', '.....', '.....', '.##..', '.##..'],
  "'": ['..#..', '..#..', '.#...', '.....', '.....', '.....', '.....'],
  '-': ['.....', '.....', '.....', '#####', '.....', '.....', '.....'],
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  D: ['####.', '#...#', '#...#', '#...#', '#...#', '#...#', '####.'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  G: ['.###.', '#...#', '#....', '#.###', '#...#', '#...#', '.####'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  I: ['.###.', '..#..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  J: ['..###', '...#.', '...#.', '...#.', '...#.', '#..#.', '.##..'],
  K: ['#...#', '#..#.', '#.#..', '##...', '#.#..', '#..#.', '#...#'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  M: ['#...#', '##.##', '#.#.#', '#.#.#', '#...#', '#...#', '#...#'],
  N: ['#...#', '#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  P: ['####.', '#...#', '#...#', '####.', '#....', '#....', '#....'],
  Q: ['.###.', '#...#', '#...#', '#...#', '#.#.#', '#..#.', '.##.#'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  U: ['#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  V: ['#...#', '#...#', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
  W: ['#...#', '#...#', '#...#', '#.#.#', '#.#.#', '#.#.#', '.#.#.'],
  X: ['#...#', '#...#', '.#.#.', '..#..', '.#.#.', '#...#', '#...#'],
  Y: ['#...#', '#...#', '.#.#.', '..#..', '..#..', '..#..', '..#..'],
  Z: ['#####', '....#', '...#.', '..#..', '.#...', '#....', '#####'],
  x: ['.....', '.....', '#...#', '.#.#.', '..#..', '.#.#.', '#...#'],
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['#####', '...#.', '..#..', '...#.', '....#', '#...#', '.###.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
}
