// A `.env` in the checkout (which a pull request can add) may choose where requests go; the real
// environment holds the secrets. The two are never paired without a warning naming both (names
// only, never values), and plain http to another machine is warned about for the bucket as for
// the gateway.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSession } from '../../src/session/index.js'
import type { Logger } from '../../src/types.js'

const SECRETS = {
  FLUX_API_KEY: 'sk-real-environment-key',
  AWS_ACCESS_KEY_ID: 'AKIAREALENVIRONMENT',
  AWS_SECRET_ACCESS_KEY: 'real-environment-secret',
  AWS_SESSION_TOKEN: 'real-environment-session-token',
}
const BUCKET = 's3://team-bucket/site'

let root: string
let warnings: string[]
let logger: Logger
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-env-secrets-'))
  warnings = []
  logger = { info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) }
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

/** The warnings of a session over `root` with `.env` files `files` and the real environment `env`. */
async function warningsOf(files: Record<string, string>, env: Record<string, string>): Promise<string[]> {
  for (const [name, text] of Object.entries(files)) await writeFile(join(root, name), text)
  const session = await createSession({ logger }, { root, env, command: 'cli' })
  await session.close()
  for (const w of warnings) for (const secret of Object.values(SECRETS)) expect(w).not.toContain(secret)
  return warnings
}

const REMOTE_PAIR = (file: string, names: string) =>
  `[flux] FLUX_REMOTE_ENDPOINT is set by ${file} only, while the environment gives ${names}: requests signed with them would go to an address that a file of the checkout chose.\n` +
  `  hint: If ${file} is yours, set FLUX_REMOTE_ENDPOINT in the environment too (or remote.endpoint in the config file). If a pull request added it, run this build without ${names}.`
const AWS_NAMES = 'AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN'

describe('the bucket endpoint from a .env file', () => {
  it('with AWS_* credentials from the environment: one warning naming the variables, and the plain-http one', async () => {
    const found = await warningsOf(
      { '.env': `FLUX_REMOTE_URL=${BUCKET}\nFLUX_REMOTE_ENDPOINT=http://collector.example:9000\n` },
      SECRETS,
    )
    expect(found).toEqual([
      "[flux] remote.endpoint http://collector.example:9000 is plain http on another machine: the bucket's session token, signed requests and images would cross the network unencrypted. Use https://, or a store on this machine.",
      REMOTE_PAIR('.env', AWS_NAMES),
    ])
  })

  it('names the file that set it (.env.production.local), even over https and on loopback', async () => {
    expect(
      await warningsOf(
        {
          '.env': `FLUX_REMOTE_URL=${BUCKET}\n`,
          '.env.production.local': 'FLUX_REMOTE_ENDPOINT=https://collector.example\n',
        },
        SECRETS,
      ),
    ).toEqual([REMOTE_PAIR('.env.production.local', AWS_NAMES)])
  })

  it('with FLUX_REMOTE_* credentials from the environment: names those', async () => {
    const { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret } = SECRETS
    expect(
      await warningsOf(
        { '.env': `FLUX_REMOTE_URL=${BUCKET}\nFLUX_REMOTE_ENDPOINT=http://127.0.0.1:9000\n` },
        { FLUX_REMOTE_ACCESS_KEY_ID: id, FLUX_REMOTE_SECRET_ACCESS_KEY: secret },
      ),
    ).toEqual([REMOTE_PAIR('.env', 'FLUX_REMOTE_ACCESS_KEY_ID, FLUX_REMOTE_SECRET_ACCESS_KEY')])
  })

  describe('no warning', () => {
    it('when the environment sets the endpoint too (it wins over the file)', async () => {
      const env = { ...SECRETS, FLUX_REMOTE_ENDPOINT: 'https://s3.team.example' }
      expect(
        await warningsOf(
          { '.env': `FLUX_REMOTE_URL=${BUCKET}\nFLUX_REMOTE_ENDPOINT=https://collector.example\n` },
          env,
        ),
      ).toEqual([])
    })

    it('when the .env file gives the credentials too (nothing of the environment is sent)', async () => {
      expect(
        await warningsOf(
          {
            '.env': `FLUX_REMOTE_URL=${BUCKET}\nFLUX_REMOTE_ENDPOINT=https://collector.example\nFLUX_REMOTE_ACCESS_KEY_ID=AKIAFILE\nFLUX_REMOTE_SECRET_ACCESS_KEY=file-secret\n`,
          },
          SECRETS,
        ),
      ).toEqual([])
    })

    it('when there are no credentials (unsigned reads of a public bucket)', async () => {
      expect(
        await warningsOf(
          { '.env': `FLUX_REMOTE_URL=${BUCKET}\nFLUX_REMOTE_ENDPOINT=http://collector.example\n` },
          {},
        ),
      ).toEqual([])
    })

    it('when the .env file names only the bucket (the endpoint is AWS, from the environment or the default)', async () => {
      expect(await warningsOf({ '.env': `FLUX_REMOTE_URL=${BUCKET}\n` }, SECRETS)).toEqual([])
    })
  })
})

describe('the gateway base URL from a .env file', () => {
  const GATEWAY_PAIR =
    '[flux] FLUX_BASE_URL is set by .env only, while the environment gives FLUX_API_KEY: the API key would be sent to an address that a file of the checkout chose.\n' +
    '  hint: If .env is yours, set FLUX_BASE_URL in the environment too (or baseURL in the config file). If a pull request added it, run this build without FLUX_API_KEY.'

  it('with FLUX_API_KEY from the environment: one warning naming both', async () => {
    expect(await warningsOf({ '.env': 'FLUX_BASE_URL=https://collector.example/v1\n' }, SECRETS)).toEqual([
      GATEWAY_PAIR,
    ])
  })

  it('no warning when the key is in the same file, or the environment sets the URL too', async () => {
    expect(
      await warningsOf(
        { '.env': 'FLUX_BASE_URL=https://gw.example\nFLUX_API_KEY=sk-file\n' },
        { AWS_REGION: 'x' },
      ),
    ).toEqual([])
    expect(
      await warningsOf(
        { '.env': 'FLUX_BASE_URL=https://collector.example\n' },
        { ...SECRETS, FLUX_BASE_URL: 'https://gw.example' },
      ),
    ).toEqual([])
  })
})
