// What the integration hands Astro besides hooks: the types of `flux:` imports, the studio's toolbar app.

/** The types of `flux:` imports (`injectTypes`). */
export const IMPORT_TYPES = `declare module 'flux:*' {
  /**
   * Astro's image of the original (src, width, height, format), for <Image>, <Picture> and
   * getImage(); and the optimized image (srcsets, <source>s, placeholder, alt; whole in \`flux\`)
   * for <FluxImage image={...}>.
   */
  const image: import('astro').ImageMetadata &
    Omit<import('@flux-images/astro').FluxImageData, 'src' | 'width' | 'height'> & {
      flux: import('@flux-images/astro').FluxImageData
    }
  export default image
}
`

/** The studio in Astro's dev toolbar (`studio-app.js`, run in the page). */
export const STUDIO_APP = {
  id: 'flux-images-studio',
  name: 'flux-images studio',
  icon: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.6"><rect x="3" y="5" width="18" height="14" rx="2"/><path d="m3 16 5-5 4 4 3-3 6 6"/><circle cx="16" cy="9" r="1.5"/></svg>',
  entrypoint: new URL('../studio-app.js', import.meta.url),
}
