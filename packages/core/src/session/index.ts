export { buildError, createSession, formatSummary, type Session, type SessionHost } from './create-session.js'
