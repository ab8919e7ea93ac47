import { decodeOptions, loadSharp, readImageHeader } from '../sharp.js'

/** Thumbnails fit in a box this many pixels wide and high: sharp enough for a ~300 px card. */
export const THUMBNAIL_MAX_SIDE = 320
// WebP at this quality keeps a 320 px thumbnail around 5-15 KB, so a report of hundreds stays small.
const WEBP_QUALITY = 70

/** An inline image: a `data:` URI and its pixel dimensions, for `<img src width height>`. */
export interface Thumbnail {
  src: string
  width: number
  height: number
}

/**
 * A small WebP `data:` URI of the image at `path`, fitting in `maxSide` x `maxSide`, never
 * enlarged, upright (EXIF orientation applied). Rejects, without decoding, a file that is not a PNG,
 * JPEG or WebP or is over MAX_INPUT_PIXELS (`readImageHeader`), and when sharp cannot decode it.
 */
export async function makeThumbnail(path: string, { maxSide = THUMBNAIL_MAX_SIDE } = {}): Promise<Thumbnail> {
  const sharp = await loadSharp()
  await readImageHeader(path)
  const { data, info } = await sharp(path, decodeOptions('error'))
    .autoOrient()
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: WEBP_QUALITY })
    .toBuffer({ resolveWithObject: true })
  return { src: `data:image/webp;base64,${data.toString('base64')}`, width: info.width, height: info.height }
}
