// The workbenches (issue 14): desktop web, built into dist/ and served at /desk/ on the
// proxy's one origin beside the grid worker's app (docs/DESK.md). No CDN: everything the
// page loads is in dist/.
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

export default defineConfig({
  base: '/desk/',
  plugins: [vue()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
})
