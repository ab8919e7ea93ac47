export { buildError, createSession, formatSummary, type Session, type SessionHost } from './create-session.js'
export { devGuard } from './dev-guard.js'
export {
  createStudio,
  type HeldImages,
  MAX_REROLL,
  type Studio,
  type StudioAction,
  type StudioImage,
  type StudioReply,
  type StudioState,
} from './studio.js'
