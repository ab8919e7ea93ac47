/** The five prompts of test/fixtures/install-sveltekit, built by test/frameworks.test.ts and the host matrix. */
export const SVELTEKIT_PROMPTS = [
  'A lighthouse on a cliff at dawn, watercolor',
  'A fishing boat at dusk, oil painting',
  'A seagull on a wooden post',
  'A red paper lantern in the rain',
  'A coil of old rope on a pier',
]
