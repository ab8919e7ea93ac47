import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSession, type Session, type StudioReply } from '@flux-images/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

/**
 * The studio's actions in core, host-agnostic, through a dev session over the mock gateway: the
 * budget asks again before spending past it, a message without the page's secret does nothing, a
 * prompt that would not read back is refused with the file untouched, and a dev server that
 * listens beyond this machine spends nothing.
 */

const KEY = 'sk-flux-studio-actions-93aa'
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
const PAGE =
  '# Notes\n\n![A kite](flux:A red kite over green hills)\n\n![A boat](flux:A paper boat on a puddle)\n'

let gateway: MockGateway
const sessions: Session[] = []
const roots: string[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()))
  await gateway?.close()
  await Promise.all(
    roots.map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })),
  )
})

async function devSession(serverHost?: string): Promise<{ session: Session; root: string; keys: string[] }> {
  await mkdir(TMP, { recursive: true })
  const root = await mkdtemp(join(TMP, 'studio-actions-'))
  roots.push(root)
  await writeFile(join(root, 'notes.md'), PAGE)
  const session = await createSession(
    {
      apiKey: KEY,
      baseURL: gateway.url,
      devBudget: 3,
      image: { widths: [200], maxWidth: 200, formats: ['webp'] },
    },
    { command: 'dev', root, ...(serverHost && { serverHost }) },
  )
  sessions.push(session)
  const keys = (await session.flux.scan()).items.map((item) => item.key)
  return { session, root, keys }
}

const send = (
  session: Session,
  action: unknown,
  token: unknown = session.studio?.token,
): Promise<StudioReply> =>
  session.studio?.receive({ token, action }) ?? Promise.reject(new Error('no studio'))

describe('studio actions', () => {
  it('asks again past the budget, refuses what the page did not send, and keeps a file whole when a prompt cannot go there', async () => {
    gateway.reset()
    const { session, root, keys } = await devSession()
    const [kite = ''] = keys
    session.prepare()
    await expect.poll(() => gateway.generated, { timeout: 30_000 }).toBe(2)
    expect(session.studio?.state()).toMatchObject({ budget: 3, spent: 2, paused: false })

    // 2 of 3 spent: a re-roll of 2 asks first, and spends nothing until told to go on.
    const asked = await send(session, { type: 'reroll', key: kite, count: 2 })
    expect(asked).toMatchObject({
      ok: false,
      confirm:
        'This dev session has paid for 2 of its 3 generations (devBudget); 2 more would pass it. Go on?',
    })
    expect(gateway.generated).toBe(2)
    const made = await send(session, { type: 'reroll', key: kite, count: 2, confirm: true })
    expect(made).toMatchObject({ ok: true, message: 'notes.md:3:11: 2 candidate(s) made (1, 2).' })
    expect(gateway.generated).toBe(4)
    expect(session.studio?.state().spent).toBe(4)

    // Without the page's secret, or not an action: refused, nothing spent.
    for (const [token, action] of [
      ['0'.repeat(48), { type: 'reroll', key: kite, count: 1, confirm: true }],
      [null, { type: 'reroll', key: kite, count: 1, confirm: true }],
      [session.studio?.token, { type: 'reroll', key: kite, count: '1', confirm: true }],
      [session.studio?.token, { type: 'spend-everything' }],
    ] as const) {
      const reply = await send(session, action, token)
      expect(reply.ok).toBe(false)
      expect('error' in reply && reply.error).toMatch(/^Refused: /)
    }
    expect(gateway.generated).toBe(4)

    // A prompt that would end the markdown link early: refused, the file byte for byte as it was.
    const broken = await send(session, {
      type: 'edit',
      key: kite,
      file: 'notes.md',
      line: 3,
      prompt: 'A kite) and more',
    })
    expect(broken).toMatchObject({
      ok: false,
      error:
        'notes.md:3:11: "A kite) and more" would not read back as this directive\'s prompt there (it holds characters that end it in this file). Open it in the editor.',
    })
    expect(await readFile(join(root, 'notes.md'), 'utf8')).toBe(PAGE)

    // Pick 2, then go back: no request.
    expect(await send(session, { type: 'pick', key: kite, candidate: 2 })).toMatchObject({ ok: true })
    expect(await send(session, { type: 'pick', key: kite, candidate: 0 })).toMatchObject({
      ok: true,
      message: 'notes.md:3:11: back to its own image.',
    })
    expect(gateway.generated).toBe(4)
  })

  it('spends nothing when the dev server listens beyond this machine', async () => {
    gateway.reset()
    const { session, keys } = await devSession('0.0.0.0')
    const reply = await send(session, { type: 'reroll', key: keys[0], count: 1, confirm: true })
    expect(reply).toMatchObject({ ok: false, state: { paused: true } })
    expect('error' in reply && reply.error).toContain('listens beyond this machine')
    expect(gateway.generated).toBe(0)
  })
})
