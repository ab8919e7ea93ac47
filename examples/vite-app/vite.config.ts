import { flux } from '@flux-images/vite'
import { defineConfig } from 'vite'

// Without FLUX_API_KEY (and FLUX_BASE_URL) the images are local placeholders, so this builds offline.
export default defineConfig({
  plugins: [flux()],
})
