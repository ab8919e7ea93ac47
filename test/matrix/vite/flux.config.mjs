// Small variants keep the encodes short; the pipeline is the same.
export default {
  model: 'flux-schnell',
  image: { widths: [160], maxWidth: 320 },
}
