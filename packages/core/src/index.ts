export { FluxError } from './errors.js'
