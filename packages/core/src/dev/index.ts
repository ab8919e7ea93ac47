/**
 * `@flux-images/core/dev`: what both adapters hand to Vite's dev server and build, written once:
 * `flux:` imports and the dev client, the studio's routes, the page reload when pending images
 * arrive, and failures in the form Vite prints and its overlay shows. Internal to the adapters.
 */
export {
  DEV_CLIENT,
  FLUX_MODULE_PREFIX,
  type FluxImport,
  type FluxImportsOptions,
  fluxImports,
  hostError,
  reloadPages,
} from './flux-imports.js'
export { type FluxStudioOptions, fluxStudio, STUDIO_EVENT } from './flux-studio.js'
export type { DevPlugin, DevServer, HostError, Middleware } from './host.js'
