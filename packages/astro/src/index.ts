/** The Astro integration arrives with its own issue; this shell keeps the workspace building. */
export const INTEGRATION_NAME = '@flux-images/astro'
