/** The JSON body of `POST /v1/images/generations`, as the mock parsed and validated it. */
export interface GenerationBody {
  model: string
  prompt: string
  size: string
  quality: 'standard' | 'hd'
  n: number
  response_format: 'url' | 'b64_json'
  seed?: number
}

/** What a fault function is told about each generation request (after auth and validation). */
export interface FaultContext {
  /** 1-based number of this generation request among all the mock received (auth failures included). */
  requestNumber: number
  /** 1-based count of requests seen so far for this prompt, this one included. */
  promptCount: number
  body: GenerationBody
}

/**
 * A misbehaviour for one request. Every fault may carry `delayMs`, waited before it acts; a fault
 * with no `type` only delays, then answers normally.
 */
export type Fault = { delayMs?: number } & (
  | { type?: undefined }
  /** 429 rate limit, with `Retry-After` (seconds or a raw value such as an HTTP date), `retry-after-ms`, or neither. */
  | { type: 'rate-limit'; retryAfterSeconds?: number; retryAfterMs?: number; retryAfter?: string }
  /** 429 with code `insufficient_quota`. */
  | { type: 'quota' }
  /** 402 payment required (no credits left). */
  | { type: 'payment' }
  /** A 5xx (500 unless told), optionally with `Retry-After` seconds. */
  | { type: 'server-error'; status?: number; retryAfterSeconds?: number }
  /** 401 (or 403). `echoKey` puts the received Authorization value in the message, as careless gateways do. */
  | { type: 'auth'; status?: 401 | 403; echoKey?: boolean }
  /** 400 refusing the prompt. */
  | { type: 'moderation'; code?: 'content_policy_violation' | 'moderation_blocked' }
  /** Any status with an OpenAI-shaped error body. */
  | {
      type: 'error'
      status: number
      message?: string
      errorType?: string
      code?: string | null
      param?: string | null
      headers?: Record<string, string>
    }
  /** 200 with `data: []`. */
  | { type: 'empty-data' }
  /** 200 whose body is not JSON (the image was generated, then the answer garbled). */
  | { type: 'malformed-json' }
  /**
   * Destroys the connection. `before-work`: as soon as the request is read, nothing generated.
   * `after-work`: after generating (billed). `mid-body`: after sending the headers and half the body.
   */
  | { type: 'reset'; when: 'before-work' | 'after-work' | 'mid-body' }
  /** Never answers; the socket stays open until the client gives up or `close()` runs. */
  | { type: 'hang' }
  /** 200 with image bytes no decoder accepts (in `b64_json`, or behind the `url`). */
  | { type: 'corrupt-image' }
  /** 200 with the first half of a valid PNG (in `b64_json`, or behind the `url`). */
  | { type: 'truncated-image' }
  /** url responses only: the returned URL already answers 404. */
  | { type: 'expired-url' }
  /** url responses only: the file is served chunked, with no Content-Length. */
  | { type: 'chunked-url' }
  /**
   * url responses only: the file's headers and first half are sent at once, the rest after
   * `stallMs` (a slow image host; the download is in progress meanwhile).
   */
  | { type: 'slow-url'; stallMs: number }
  /**
   * url responses only: the returned URL answers 302, `hops` times in a row (default 1), the
   * last hop pointing at `location` (default: the real file on this server).
   */
  | { type: 'redirect-url'; location?: string; hops?: number }
  /** url responses only: the returned URL is this one (e.g. another host). */
  | { type: 'custom-url'; url: string }
  /**
   * 200 with a good image whose answer carries odd fields: `created` as given (any JSON value,
   * e.g. 1e20), and `revised_prompt` as given, with the received Authorization value appended
   * when `echoKey` is set (a gateway that logs the request into the revision).
   */
  | { type: 'odd-answer'; created?: unknown; revisedPrompt?: string; echoKey?: boolean }
  /**
   * 200 with the headers at once, then the body in `pieces` parts, one every `everyMs`: never
   * idle for long (no idle timeout fires), yet complete only after `pieces * everyMs`.
   */
  | { type: 'trickle'; pieces: number; everyMs: number }
)

/** OpenAI's error shape. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}

export function errorBody(
  message: string,
  type = 'invalid_request_error',
  param: string | null = null,
  code: string | null = null,
): OpenAIErrorBody {
  return { error: { message, type, param, code } }
}
