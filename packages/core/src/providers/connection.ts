import type { Agent, Dispatcher } from 'undici'
import { guardedLookup } from './download.js'

/** undici's `request` and the dispatchers for the API and for image downloads. */
export interface Connection {
  request: typeof import('undici').request
  api: Dispatcher
  download: Dispatcher
}

/**
 * A provider's connections, made with its first request (undici is loaded then: a run with every
 * image cached loads none): the API's, and the downloads', whose lookups refuse private addresses
 * unless they are allowed. A given `dispatcher` (tests) serves both. `close` closes what it made.
 */
export function createConnection({
  timeoutMs,
  dispatcher,
  allowPrivateDownloads,
}: {
  timeoutMs: number
  dispatcher?: Dispatcher | undefined
  allowPrivateDownloads: boolean
}): { connect(): Promise<Connection>; close(): Promise<void> } {
  const agentOptions = {
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: Math.min(timeoutMs, 30_000),
  }
  const own: Agent[] = []
  let connection: Promise<Connection> | undefined
  return {
    connect: () =>
      (connection ??= import('undici').then(({ Agent, request }) => {
        const made = (agent: Agent) => {
          own.push(agent)
          return agent
        }
        const api = dispatcher ?? made(new Agent(agentOptions))
        const download =
          dispatcher ??
          (allowPrivateDownloads
            ? api
            : made(new Agent({ ...agentOptions, connect: { lookup: guardedLookup } })))
        return { request, api, download }
      })),
    async close() {
      await connection?.catch(() => {})
      await Promise.all(own.map((agent) => agent.close()))
    },
  }
}
