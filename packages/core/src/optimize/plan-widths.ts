/** One output size. */
export interface VariantSize {
  width: number
  height: number
}

/**
 * The sizes to emit for an original, smallest first: each requested width below the largest, and
 * the largest itself (the original's width, or `maxWidth` when that is smaller). Never upscales:
 * a requested width at or above the largest collapses into it. Heights keep the aspect ratio,
 * rounded, at least 1.
 */
export function planWidths(
  original: VariantSize,
  { widths, maxWidth }: { widths: readonly number[]; maxWidth?: number | undefined },
): VariantSize[] {
  const top = Math.min(original.width, maxWidth ?? original.width)
  const chosen = [...new Set([...widths.filter((w) => w < top), top])].sort((a, b) => a - b)
  return chosen.map((width) => ({
    width,
    height:
      width === original.width
        ? original.height
        : Math.max(1, Math.round((original.height * width) / original.width)),
  }))
}
