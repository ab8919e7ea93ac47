/**
 * Types of `flux:` imports: `/// <reference types="@flux-images/vite/client" />` or
 * `"types": ["@flux-images/vite/client"]` in tsconfig.json.
 */
declare module 'flux:*' {
  /** The optimized image: URLs, dimensions, `<source>` srcsets, placeholder, alt. */
  const image: Omit<import('@flux-images/core').ImageResult, 'files'>
  export default image
}
