/**
 * sharp, loaded on first use. Loading libvips and its codecs costs 70-180 ms on the 2-core machine
 * of BENCHMARKS.md, and most runs never decode: a warm build, a scan, a dry run.
 */
import { readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type SharpModule from 'sharp'
import type { FailOnOptions } from 'sharp'

export type SharpFn = typeof SharpModule

/** The side of the square the pixel budget is named by in messages. */
const BUDGET_SIDE = 3072

/**
 * The pixel budget of every decode: 3072 x 3072 (9.4 MP), over twice the largest FLUX output
 * (2752 x 1536, 4.2 MP); making the variants of an original at the budget peaks near 0.8 GB.
 */
export const MAX_INPUT_PIXELS = BUDGET_SIDE * BUDGET_SIDE

/** Formats an original may have, as sharp names them. */
export type ImageFormat = 'png' | 'jpeg' | 'webp'

/** What an image is, read from its magic bytes and header without decoding any pixel. */
export interface ImageHeader {
  format: ImageFormat
  /** As displayed: EXIF orientation applied (a 90-degree turn swaps them). */
  width: number
  height: number
}

/** Why an image is not decoded: not a PNG, JPEG or WebP (`format`), or over the budget (`pixels`). */
export class ImageRefusal extends Error {
  override readonly name = 'ImageRefusal'
  constructor(
    readonly kind: 'format' | 'pixels',
    message: string,
  ) {
    super(message)
  }
}

/** The sharp options every decode of an image passes: the pixel budget and how strict to be. */
export function decodeOptions(failOn: FailOnOptions): { failOn: FailOnOptions; limitInputPixels: number } {
  return { failOn, limitInputPixels: MAX_INPUT_PIXELS }
}

let loading: Promise<SharpFn> | undefined

/**
 * The sharp function. Its operation cache is turned off on load (process-wide): it keeps recent
 * images in memory and never helps here, where every input is read once.
 */
export function loadSharp(): Promise<SharpFn> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false)
    return sharp
  })
  return loading
}

let version: string | undefined

/**
 * The installed sharp's version, from its package.json, without loading libvips. A sharp release
 * pins the libvips and codecs it ships, so the version names the encoders; a sharp built against
 * a system libvips that is upgraded in place is the exception (its variants stay until pruned).
 */
export function sharpVersion(): string {
  if (version !== undefined) return version
  // The package exports no package.json: walk up from its entry point to the one named sharp.
  let dir = dirname(createRequire(import.meta.url).resolve('sharp'))
  for (;;) {
    const pkg = readPackage(join(dir, 'package.json'))
    if (pkg?.name === 'sharp' && typeof pkg.version === 'string') {
      version = pkg.version
      return version
    }
    const up = dirname(dir)
    if (up === dir) throw new Error('[flux] cannot find the package.json of sharp')
    dir = up
  }
}

function readPackage(file: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
}

/**
 * The header of the image in `input` (bytes or a file path), checked before any pixel is decoded:
 * its magic bytes must say PNG, JPEG or WebP (so an SVG or any other format named `.png` never
 * reaches a parser) and sharp's reading of the header must agree; its pixels must fit the budget.
 * Throws ImageRefusal for those, and sharp's error for an unreadable header.
 */
export async function readImageHeader(input: Uint8Array | string): Promise<ImageHeader> {
  const head = typeof input === 'string' ? await readHead(input) : input.subarray(0, HEAD_BYTES)
  const format = sniffImageFormat(head)
  if (format === undefined) {
    const what = typeof input === 'string' ? `it starts "${printable(head)}"` : describeBytes(input)
    throw new ImageRefusal('format', `${what}: not a PNG, JPEG or WebP image`)
  }
  const sharp = await loadSharp()
  // The header only (no pixel is decoded), so the budget is checked here with the real size in hand.
  const meta = await sharp(input, { limitInputPixels: false }).metadata()
  if (meta.format !== format) {
    throw new ImageRefusal(
      'format',
      `its header says ${meta.format ?? 'unknown'}, its first bytes say ${format}`,
    )
  }
  const { width, height } = meta.autoOrient ?? meta
  if (!width || !height) throw new ImageRefusal('format', 'its header has no dimensions')
  if (width * height > MAX_INPUT_PIXELS) {
    throw new ImageRefusal(
      'pixels',
      `the ${format} image is ${width}x${height} pixels (${megapixels(width * height)}), over the budget of ` +
        `${megapixels(MAX_INPUT_PIXELS)} (${BUDGET_SIDE}x${BUDGET_SIDE}) that any image is decoded at`,
    )
  }
  return { format, width, height }
}

/** Enough leading bytes for every magic number sniffed, and for a readable excerpt. */
const HEAD_BYTES = 16

async function readHead(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r')
  try {
    const head = Buffer.alloc(HEAD_BYTES)
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0)
    return head.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}

/** The format announced by the first bytes (magic numbers), or undefined. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const starts = (sig: number[], at = 0) => sig.every((b, i) => bytes[at + i] === b)
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png'
  if (starts([0xff, 0xd8, 0xff])) return 'jpeg'
  // "RIFF" <size> "WEBP"
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'webp'
  return undefined
}

/** `n bytes starting "..."`, for a message about bytes that are not an image. */
export function describeBytes(bytes: Uint8Array): string {
  return bytes.length === 0 ? 'an empty answer' : `${bytes.length} bytes starting "${printable(bytes)}"`
}

/** The first bytes as text, printable characters only. */
function printable(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, HEAD_BYTES))
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, '.')
}

function megapixels(pixels: number): string {
  return `${(pixels / 1e6).toFixed(1)} MP`
}
