import { flux } from '@flux-images/vite'
import { defineConfig } from 'vite'

export default defineConfig({
  plugins: [flux()],
})
