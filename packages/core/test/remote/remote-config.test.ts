import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { FluxError } from '../../src/errors.js'
import { resolveRemoteConfig } from '../../src/remote/remote-config.js'

function problems(run: () => unknown): string[] {
  try {
    run()
  } catch (err) {
    if (FluxError.is(err, 'FLUX_REMOTE_CONFIG')) {
      return err.detail
        .split('\n')
        .slice(1)
        .map((l) => l.replace(/^ {2}- /, ''))
    }
    throw err
  }
  throw new Error('expected FLUX_REMOTE_CONFIG')
}

const KEYS = { accessKeyId: 'AKIAOPTION', secretAccessKey: 'option-secret' }

describe('resolveRemoteConfig', () => {
  describe('missing', () => {
    it('no URL in the option or the environment: no remote', () => {
      expect(resolveRemoteConfig(undefined, {})).toBeUndefined()
      expect(resolveRemoteConfig({ region: 'eu-west-1' }, { AWS_ACCESS_KEY_ID: 'x' })).toBeUndefined()
    })

    it('an empty or blank URL is no URL', () => {
      expect(resolveRemoteConfig({ url: '  ' }, { FLUX_REMOTE_URL: '' })).toBeUndefined()
    })

    it('no credentials anywhere: unsigned requests (a public bucket)', () => {
      expect(resolveRemoteConfig({ url: 's3://public-bucket' }, {})?.credentials).toBeUndefined()
    })
  })

  describe('invalid', () => {
    it('lists every problem at once, each with its path', () => {
      expect(
        problems(() =>
          resolveRemoteConfig(
            { url: 's3://Bad_Bucket/x', endpoint: 'ftp://files.example', addressing: 'sideways' as 'path' },
            { AWS_ACCESS_KEY_ID: 'AKIAONLY' },
          ),
        ),
      ).toEqual([
        'remote.url: "Bad_Bucket" is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)',
        'remote.endpoint: expected an http(s) URL, got ftp:',
        'remote.addressing: expected "path" or "virtual", got "sideways"',
        'AWS_SECRET_ACCESS_KEY: missing, while AWS_ACCESS_KEY_ID is set (both are needed)',
      ])
    })

    it('a URL that is not s3://, an endpoint that is not a URL', () => {
      expect(
        problems(() => resolveRemoteConfig({ url: 'https://bucket.example/x', endpoint: 'localhost' }, {})),
      ).toEqual([
        'remote.url: expected s3://bucket/prefix, got "https://bucket.example/x"',
        'remote.endpoint: expected an absolute http(s) URL, got "localhost"',
      ])
    })

    it('a secret with a trailing newline, named by its variable and never quoted', () => {
      const found = problems(() =>
        resolveRemoteConfig(
          { url: 's3://bucket' },
          { FLUX_REMOTE_ACCESS_KEY_ID: 'AKIA', FLUX_REMOTE_SECRET_ACCESS_KEY: 'pasted-secret\n' },
        ),
      )
      expect(found).toEqual([
        'FLUX_REMOTE_SECRET_ACCESS_KEY: contains spaces, control or non-ASCII characters (a trailing newline?)',
      ])
      expect(found.join('\n')).not.toContain('pasted-secret')
    })

    it('a dotted bucket cannot be addressed in the host name over https', () => {
      expect(
        problems(() => resolveRemoteConfig({ url: 's3://my.bucket', addressing: 'virtual' }, {})),
      ).toEqual(['remote.addressing: a bucket name with dots (my.bucket) needs "path" over https'])
    })
  })

  describe('valid', () => {
    it('splits bucket and prefix, the prefix ending in one slash', () => {
      expect(resolveRemoteConfig({ url: 's3://bucket/team/site/' }, {})).toMatchObject({
        bucket: 'bucket',
        prefix: 'team/site/',
      })
      expect(resolveRemoteConfig({ url: 's3://bucket' }, {})?.prefix).toBe('')
      expect(resolveRemoteConfig({ url: 's3://bucket//' }, {})?.prefix).toBe('')
    })

    it('defaults to AWS: the regional endpoint, virtual-host addressing, us-east-1', () => {
      expect(resolveRemoteConfig({ url: 's3://bucket' }, {})).toMatchObject({
        endpoint: 'https://s3.us-east-1.amazonaws.com',
        region: 'us-east-1',
        addressing: 'virtual',
      })
      expect(resolveRemoteConfig({ url: 's3://bucket' }, { AWS_REGION: 'eu-west-3' })?.endpoint).toBe(
        'https://s3.eu-west-3.amazonaws.com',
      )
    })

    it('another endpoint: path-style addressing, and region auto on R2', () => {
      expect(resolveRemoteConfig({ url: 's3://b-1', endpoint: 'http://localhost:9000/' }, {})).toMatchObject({
        endpoint: 'http://localhost:9000',
        addressing: 'path',
        region: 'us-east-1',
      })
      expect(
        resolveRemoteConfig({ url: 's3://b-1', endpoint: 'https://acc.r2.cloudflarestorage.com' }, {})
          ?.region,
      ).toBe('auto')
    })

    it('reads each field from the option, then FLUX_REMOTE_*, then AWS_*', () => {
      const env = {
        FLUX_REMOTE_URL: 's3://env-bucket/env',
        FLUX_REMOTE_ENDPOINT: 'http://flux-endpoint:9000',
        AWS_ENDPOINT_URL_S3: 'http://aws-s3-endpoint',
        AWS_ENDPOINT_URL: 'http://aws-endpoint',
        FLUX_REMOTE_REGION: 'flux-region',
        AWS_REGION: 'aws-region',
        FLUX_REMOTE_ADDRESSING: 'virtual',
      }
      expect(resolveRemoteConfig({}, env)).toMatchObject({
        bucket: 'env-bucket',
        prefix: 'env/',
        endpoint: 'http://flux-endpoint:9000',
        region: 'flux-region',
        addressing: 'virtual',
      })
      expect(
        resolveRemoteConfig(
          { url: 's3://opt', endpoint: 'http://opt:1', region: 'opt-region', addressing: 'path' },
          env,
        ),
      ).toMatchObject({ bucket: 'opt', endpoint: 'http://opt:1', region: 'opt-region', addressing: 'path' })
      const { FLUX_REMOTE_ENDPOINT: _, ...withoutFlux } = env
      expect(resolveRemoteConfig({}, withoutFlux)?.endpoint).toBe('http://aws-s3-endpoint')
      expect(resolveRemoteConfig({}, { ...withoutFlux, AWS_ENDPOINT_URL_S3: undefined })?.endpoint).toBe(
        'http://aws-endpoint',
      )
      expect(resolveRemoteConfig({ url: 's3://b-1' }, { AWS_DEFAULT_REGION: 'default-region' })?.region).toBe(
        'default-region',
      )
    })

    it('takes the credentials whole from one source: never a key id from one and a token from another', () => {
      const env = {
        FLUX_REMOTE_ACCESS_KEY_ID: 'AKIAFLUX',
        FLUX_REMOTE_SECRET_ACCESS_KEY: 'flux-secret',
        AWS_ACCESS_KEY_ID: 'AKIAAWS',
        AWS_SECRET_ACCESS_KEY: 'aws-secret',
        AWS_SESSION_TOKEN: 'aws-token',
      }
      const pick = (options: object, e: Record<string, string>) => {
        const c = resolveRemoteConfig({ url: 's3://bucket', ...options }, e)?.credentials
        return c && { ...c }
      }
      expect(pick(KEYS, env)).toEqual({ ...KEYS, sessionToken: undefined })
      expect(pick({}, env)).toEqual({
        accessKeyId: 'AKIAFLUX',
        secretAccessKey: 'flux-secret',
        sessionToken: undefined,
      })
      const { FLUX_REMOTE_ACCESS_KEY_ID: _a, FLUX_REMOTE_SECRET_ACCESS_KEY: _b, ...awsOnly } = env
      expect(pick({}, awsOnly)).toEqual({
        accessKeyId: 'AKIAAWS',
        secretAccessKey: 'aws-secret',
        sessionToken: 'aws-token',
      })
    })

    it('prints the credentials with the key id only', () => {
      const config = resolveRemoteConfig({ url: 's3://bucket', ...KEYS, sessionToken: 'option-token' }, {})
      for (const form of [inspect(config, { depth: 5 }), JSON.stringify(config)]) {
        expect(form).toContain('AKIAOPTION')
        expect(form).not.toContain('option-secret')
        expect(form).not.toContain('option-token')
      }
      expect(config?.credentials?.secretAccessKey).toBe('option-secret')
    })
  })
})
