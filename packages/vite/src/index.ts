/** The Vite plugin arrives with its own issue; this shell keeps the workspace building. */
export const PLUGIN_NAME = 'flux-images'
