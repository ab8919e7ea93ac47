import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'

/** The astro CLI the tests' projects resolve. */
export const ASTRO = fileURLToPath(new URL('../node_modules/astro/bin/astro.mjs', import.meta.url))

/** This process's environment without what the test runner adds (NODE_ENV=test makes Astro's dev server serve no pages). */
export function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_ENV
  for (const name of Object.keys(env)) if (name.startsWith('VITEST')) delete env[name]
  return env
}

/** A loopback port nothing listens on. */
export async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done))
  const { port } = probe.address() as { port: number }
  await new Promise((done) => probe.close(done))
  return port
}

export interface AstroDev {
  origin: string
  /** Everything the server printed so far. */
  output(): string
  /** Stops the server and waits for its process to end. */
  close(): Promise<void>
}

/** `astro dev` as a user runs it, in its own process, once it watches for changes. */
export async function startAstroDev(root: string, env: NodeJS.ProcessEnv = {}): Promise<AstroDev> {
  const port = await freePort()
  const child = spawn(process.execPath, [ASTRO, 'dev', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: root,
    env: { ...userEnv(), ASTRO_TELEMETRY_DISABLED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  let output = ''
  child.stdout?.on('data', (chunk) => (output += chunk))
  child.stderr?.on('data', (chunk) => (output += chunk))
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill()
    await exited
  }
  try {
    await expect.poll(() => output, { timeout: 60_000 }).toContain('watching for file changes')
  } catch (err) {
    await close()
    throw new Error(`astro dev did not start: ${(err as Error).message}\n--- it said ---\n${output}`)
  }
  return { origin: `http://127.0.0.1:${port}`, output: () => output, close }
}

/** What a dev server's error overlay shows: the `error` payload Vite's client receives. */
export interface OverlayError {
  message: string
  loc?: { file?: string; line?: number; column?: number }
}

/**
 * Listens to a dev server as its pages do, over Vite's HMR websocket: counts the `full-reload`
 * messages and keeps the errors sent to the overlay (Vite's for a failed module, Astro's for a
 * failed page).
 */
export async function watchHmr(
  origin: string,
): Promise<{ readonly reloads: number; readonly errors: readonly OverlayError[]; close(): void }> {
  // Vite only accepts sockets that carry the token its client module was served with.
  const client = await (await fetch(`${origin}/@vite/client`)).text()
  const token = /const wsToken = "([^"]*)"/.exec(client)?.[1]
  if (token === undefined) throw new Error('no HMR token in /@vite/client')
  const socket = new WebSocket(`${origin.replace(/^http/, 'ws')}/?token=${token}`, 'vite-hmr')
  let reloads = 0
  const errors: OverlayError[] = []
  await new Promise<void>((connected, failed) => {
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { type?: string; err?: OverlayError }
      if (message.type === 'connected') connected()
      if (message.type === 'full-reload') reloads++
      if (message.type === 'error' && message.err) errors.push(message.err)
    })
    socket.addEventListener('error', () => failed(new Error(`no HMR websocket at ${origin}`)))
  })
  return {
    get reloads() {
      return reloads
    },
    errors,
    close: () => socket.close(),
  }
}

/**
 * Writes `text` to `file` until a dev server shows it (`seen`). A watcher misses what is written
 * before its first scan ends (it has nothing to report when it is ready): a file the server has not
 * shown after a while is written again, at most 8 times.
 */
export async function writeUntil(file: string, text: string, seen: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 8; attempt++) {
    await writeFile(file, text)
    const shown = await expect
      .poll(seen, { timeout: 30_000, interval: 500 })
      .toBe(true)
      .then(
        () => true,
        () => false,
      )
    if (shown) return
  }
}
