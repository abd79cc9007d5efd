// The app's service worker (generated into dist/sw.js by vite.config.js): the shell is
// precached at install, so the app opens without a network; API calls (/api/…) are never
// cached: reports made offline wait in the app's own queue (IndexedDB), not here.
const VERSION = '__VERSION__'
const SHELL = __SHELL__
const CACHE = `gridgov-app-${VERSION}`

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('gridgov-app-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith('/app/')) return
  if (event.request.mode === 'navigate') {
    // the page: the network when there is one (a new version), else the cached shell
    event.respondWith(fetch(event.request).catch(() => caches.match('./', { ignoreSearch: true })))
    return
  }
  event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)))
})
