// Perceptual quality of an encoded file: SSIM (ssim.js, its default Weber algorithm on luma)
// against the original resized to the file's width with sharp's default resize (the reference
// every contender resized from).
import sharp from 'sharp'
import { ssim } from 'ssim.js'

async function rgba(input) {
  const { data, info } = await input.ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  return {
    data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
  }
}

/** A scorer that keeps each reference (source path, width) it has made. */
export function createScorer() {
  const references = new Map()
  const reference = (sourcePath, width) => {
    const key = `${sourcePath} ${width}`
    if (!references.has(key)) references.set(key, rgba(sharp(sourcePath).resize(width)))
    return references.get(key)
  }
  return {
    /** SSIM of the encoded `bytes` (any format sharp reads) against `sourcePath` at the same width. */
    async score(sourcePath, bytes) {
      const decoded = await rgba(sharp(bytes))
      return ssim(await reference(sourcePath, decoded.width), decoded).mssim
    },
    /** Forgets the references (they are ~5 MB each at 1440 px). */
    clear() {
      references.clear()
    },
  }
}
