// The grid worker's app (issue 12): built into dist/, served by assessment at /app/
// (docs/APP.md). No CDN: everything the page loads is in dist/.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// sw.js is written at build time with the list of files it precaches (the shell works
// offline from the first visit on), versioned by their hash.
function serviceWorker() {
  return {
    name: 'gridgov-service-worker',
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map'))
      const shell = ['./', 'manifest.webmanifest', 'icon.svg', ...files]
      const version = createHash('sha256').update(files.sort().join('\n')).digest('hex').slice(0, 12)
      const template = readFileSync(new URL('./src/sw-template.js', import.meta.url), 'utf8')
      this.emitFile({
        type: 'asset',
        fileName: 'sw.js',
        source: template.replace('__SHELL__', JSON.stringify(shell)).replace('__VERSION__', version),
      })
    },
  }
}

// No CDN: Vant's icon font names a copy on at.alicdn.com after the inline one; the build
// drops it (the inline woff2 is what every browser uses) and fails if any remote URL stays.
function noRemoteUrls() {
  return {
    name: 'gridgov-no-remote-urls',
    enforce: 'pre',
    transform(code, id) {
      if (!id.endsWith('.css')) return null
      const out = code.replace(/,\s*url\((["']?)(https?:)?\/\/[^)]*\)\s*format\((["'])woff\3\)/g, '')
      return out === code ? null : { code: out, map: null }
    },
    generateBundle(_options, bundle) {
      for (const [name, chunk] of Object.entries(bundle)) {
        const text = chunk.type === 'asset' ? String(chunk.source) : chunk.code
        if (/url\((["']?)(https?:)?\/\//.test(text)) this.error(`${name} loads from another host`)
      }
    },
  }
}

export default defineConfig({
  base: '/app/',
  plugins: [noRemoteUrls(), vue(), serviceWorker()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
})
