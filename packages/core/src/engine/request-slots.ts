import pLimit from 'p-limit'
import type { CanonicalRequest, GenerateContext, GeneratedImage, Provider } from '../types.js'

export interface SlotContext {
  signal?: AbortSignal | undefined
  /** The request takes its slot and starts. */
  onStart?: () => void
  onRetry?: () => void
  /** The request failed while it held its slot: called before the slot is released. */
  onError?: (err: unknown) => void
  /** Passed to the provider: a job to resume, and where to record one it submits. */
  receipt?: GenerateContext['receipt']
  onSubmitted?: GenerateContext['onSubmitted']
}

/**
 * The engine's bounds: `concurrency` requests in flight across every caller, and twice as many
 * images being prepared (lock, cache checks) or stored around them, which keeps the request pool fed
 * without holding a lock per image of the site.
 */
export interface RequestSlots {
  /** Runs `fn` as one of the images being prepared or stored. Never call `request`'s limiter from it twice. */
  stage<T>(fn: () => Promise<T>): Promise<T>
  /**
   * `provider.generate(request)` in a request slot. The slot is freed once the answer is received
   * (the provider's `onReceived`), so the next request starts while this image is decoded and
   * checked; a provider that never calls it holds the slot until it settles.
   */
  request(provider: Provider, request: CanonicalRequest, ctx: SlotContext): Promise<GeneratedImage>
}

export function createRequestSlots(concurrency: number): RequestSlots {
  const requests = pLimit(concurrency)
  const staging = pLimit(concurrency * 2)
  return {
    stage: (fn) => staging(fn),
    async request(provider, request, ctx) {
      const started = await requests(() => holdUntilReceived(provider, request, ctx))
      return started.image
    },
  }
}

/** Starts the generation; settles when its answer is received or it fails (boxed: not awaited here). */
async function holdUntilReceived(
  provider: Provider,
  request: CanonicalRequest,
  ctx: SlotContext,
): Promise<{ image: Promise<GeneratedImage> }> {
  ctx.signal?.throwIfAborted()
  ctx.onStart?.()
  let onReceived = () => {}
  const received = new Promise<void>((resolve) => {
    onReceived = resolve
  })
  const image = provider.generate(request, {
    signal: ctx.signal,
    onRetry: () => ctx.onRetry?.(),
    onReceived,
    ...(ctx.receipt && { receipt: ctx.receipt }),
    ...(ctx.onSubmitted && { onSubmitted: ctx.onSubmitted }),
  })
  try {
    await Promise.race([image, received])
  } catch (err) {
    ctx.onError?.(err)
    throw err
  }
  return { image }
}
