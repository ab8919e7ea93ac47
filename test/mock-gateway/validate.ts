import { errorBody, type GenerationBody, type OpenAIErrorBody } from './faults.js'

const KNOWN_FIELDS = new Set(['model', 'prompt', 'size', 'quality', 'n', 'response_format', 'seed', 'user'])

/** Validates a generation body the way OpenAI-style gateways do: 400 naming the `param` at fault. */
export function validateBody(
  json: unknown,
  models: readonly string[],
  sizes: readonly string[],
): { body: GenerationBody } | OpenAIErrorBody {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return errorBody('The request body must be a JSON object.')
  }
  const input = json as Record<string, unknown>
  for (const field of Object.keys(input)) {
    if (!KNOWN_FIELDS.has(field)) {
      return errorBody(
        `Unrecognized request argument supplied: ${field}`,
        'invalid_request_error',
        field,
        'unknown_parameter',
      )
    }
  }
  const missing = (param: string) =>
    errorBody(
      `Missing required parameter: '${param}'.`,
      'invalid_request_error',
      param,
      'missing_required_parameter',
    )
  const invalid = (param: string, accepted: readonly string[]) =>
    errorBody(
      `Invalid value for '${param}': ${JSON.stringify(input[param])}. Supported values are: ${accepted.map((v) => `'${v}'`).join(', ')}.`,
      'invalid_request_error',
      param,
      'invalid_value',
    )

  if (input.model === undefined) return missing('model')
  if (typeof input.model !== 'string' || !models.includes(input.model)) return invalid('model', models)
  if (input.prompt === undefined) return missing('prompt')
  if (typeof input.prompt !== 'string' || input.prompt.trim() === '') {
    return errorBody(
      "Invalid value for 'prompt': expected a non-empty string.",
      'invalid_request_error',
      'prompt',
      'invalid_value',
    )
  }
  const size = input.size ?? '1024x1024'
  if (typeof size !== 'string' || !sizes.includes(size)) return invalid('size', sizes)
  const quality = input.quality ?? 'standard'
  if (quality !== 'standard' && quality !== 'hd') return invalid('quality', ['standard', 'hd'])
  const n = input.n ?? 1
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10) {
    return errorBody(
      "Invalid value for 'n': expected an integer from 1 to 10.",
      'invalid_request_error',
      'n',
      'invalid_value',
    )
  }
  const format = input.response_format ?? 'url'
  if (format !== 'url' && format !== 'b64_json') return invalid('response_format', ['url', 'b64_json'])
  const seed = input.seed ?? undefined
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0)) {
    return errorBody(
      "Invalid value for 'seed': expected a non-negative integer.",
      'invalid_request_error',
      'seed',
      'invalid_value',
    )
  }
  const body: GenerationBody = {
    model: input.model,
    prompt: input.prompt,
    size,
    quality,
    n,
    response_format: format,
  }
  if (seed !== undefined) body.seed = seed
  return { body }
}
