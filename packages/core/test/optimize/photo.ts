import sharp from 'sharp'

/**
 * Deterministic photo-like pixels: a sky gradient over a textured ground (value noise at four
 * scales), soft discs and grain. Encoders behave on it roughly as on a photo, unlike flat colour
 * (which compresses to nothing) or pure noise (which does not compress at all).
 */
export function photoPixels(width: number, height: number, seed: number, alpha = false): Buffer {
  const rand = mulberry32(seed)
  const channels = alpha ? 4 : 3
  const [n0, n1, n2, n3] = [128, 40, 12, 3].map((cell) => valueNoise(rand, width, height, cell)) as [
    Noise,
    Noise,
    Noise,
    Noise,
  ]
  const hue = rand()
  const skyTop = [60 + 120 * hue, 110 + 40 * rand(), 210 - 90 * hue]
  const skyLow = [235, 190 - 70 * hue, 140 + 40 * rand()]
  const near = [30 + 50 * rand(), 55 + 50 * rand(), 20 + 20 * rand()]
  const far = [100 + 40 * rand(), 110 + 40 * rand(), 60]
  const horizon = height * (0.4 + 0.25 * rand())
  const discs = Array.from({ length: 7 }, () => ({
    x: rand() * width,
    y: rand() * height,
    r: (0.04 + 0.14 * rand()) * Math.min(width, height),
    c: [255 * rand(), 255 * rand(), 255 * rand()],
  }))
  const px = Buffer.alloc(width * height * channels)
  const c = [0, 0, 0]
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const fine = n3(x, y)
      const t = n0(x, y) * 0.5 + n1(x, y) * 0.3 + n2(x, y) * 0.15 + fine * 0.05
      if (y < horizon + (t - 0.5) * 120) {
        const k = y / horizon
        for (let i = 0; i < 3; i++)
          c[i] = at(skyTop, i) + (at(skyLow, i) - at(skyTop, i)) * k + 30 * (t - 0.5)
      } else {
        const k = (y - horizon) / (height - horizon)
        const shade = 0.45 + 1.1 * t + 0.5 * (fine - 0.5)
        for (let i = 0; i < 3; i++) c[i] = (at(far, i) + (at(near, i) - at(far, i)) * k) * shade
      }
      for (const d of discs) {
        const dx = x - d.x
        const dy = y - d.y
        if (Math.abs(dx) > d.r * 1.1 || Math.abs(dy) > d.r * 1.1) continue
        const dist = Math.sqrt(dx * dx + dy * dy) / d.r
        if (dist >= 1.1) continue
        const a = Math.min(1, (1.1 - dist) * 6) * 0.85
        for (let i = 0; i < 3; i++) c[i] = at(c, i) + (at(d.c, i) * (0.6 + 0.6 * t) - at(c, i)) * a
      }
      const o = (y * width + x) * channels
      for (let i = 0; i < 3; i++) px[o + i] = clamp(at(c, i) + (rand() - 0.5) * 14)
      // A vignette of transparency: opaque centre, clear corners.
      if (alpha) px[o + 3] = clamp(255 * (1.6 - Math.hypot(x / width - 0.5, y / height - 0.5) * 3))
    }
  }
  return px
}

/** The photo as a PNG (or JPEG) file's bytes. */
export async function photoFile(
  width: number,
  height: number,
  {
    seed = 1,
    alpha = false,
    format = 'png',
  }: { seed?: number; alpha?: boolean; format?: 'png' | 'jpeg' } = {},
): Promise<Buffer> {
  const image = sharp(photoPixels(width, height, seed, alpha), {
    raw: { width, height, channels: alpha ? 4 : 3 },
  })
  return format === 'png'
    ? image.png({ compressionLevel: 1 }).toBuffer()
    : image.jpeg({ quality: 90 }).toBuffer()
}

type Noise = (x: number, y: number) => number

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Smooth value noise in [0, 1] on a lattice of `cell` pixels. */
function valueNoise(rand: () => number, width: number, height: number, cell: number): Noise {
  const gw = Math.ceil(width / cell) + 2
  const grid = new Float32Array(gw * (Math.ceil(height / cell) + 2))
  for (let i = 0; i < grid.length; i++) grid[i] = rand()
  const g = (i: number) => grid[i] ?? 0
  return (x, y) => {
    const gx = x / cell
    const gy = y / cell
    const x0 = Math.floor(gx)
    const y0 = Math.floor(gy)
    const fx = smooth(gx - x0)
    const fy = smooth(gy - y0)
    const i = y0 * gw + x0
    const top = g(i) + (g(i + 1) - g(i)) * fx
    const bottom = g(i + gw) + (g(i + gw + 1) - g(i + gw)) * fx
    return top + (bottom - top) * fy
  }
}

const smooth = (f: number) => f * f * (3 - 2 * f)
const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)))
const at = (values: number[], i: number) => values[i] ?? 0
