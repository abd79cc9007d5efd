// The offline queue (issue 12): reports and patrol points made without a network wait in
// IndexedDB with the idempotency key given when they were made (client_ref of POST
// /cases; points are sent again as they are, which the patrol API accepts), and are sent
// on start, on the `online` event and by hand. One flush at a time (a Web Lock across
// tabs, a promise within one); an item leaves the queue only once the server answered
// it, and the server answers a repeated client_ref with the same case: sent exactly once.
import { reactive } from 'vue'
import { api, ApiError, OfflineError } from './api.js'

const DB = 'gridgov-app'
const STORE = 'outbox'
export const queueState = reactive({ items: [], flushing: false, lastError: '' })

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1)
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'key' })
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

async function tx(mode, work) {
  const db = await open()
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(STORE, mode)
    const result = work(transaction.objectStore(STORE))
    transaction.oncomplete = () => { db.close(); resolve(result.result ?? result) }
    transaction.onerror = () => { db.close(); reject(transaction.error) }
  })
}

export async function refreshQueue() {
  const all = await tx('readonly', (store) => store.getAll())
  queueState.items = all.sort((a, b) => a.created - b.created)
  document.body.dataset.queued = String(queueState.items.length)
}

export function newKey() {
  return crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('')
}

// kind 'report': {body, photos: [Blob]}; kind 'points': {patrolId, points}
export async function enqueue(kind, data) {
  const item = { key: data.key || newKey(), kind, created: Date.now(), ...data }
  await tx('readwrite', (store) => store.put(item))
  await refreshQueue()
  return item
}

async function remove(key) {
  await tx('readwrite', (store) => store.delete(key))
}

async function mark(item, error) {
  await tx('readwrite', (store) => store.put({ ...item, error }))
}

async function sendReport(item) {
  const shas = []
  for (const photo of item.photos || []) {
    const stored = await api('events', '/photos', { method: 'POST', body: photo, contentType: photo.type || 'image/jpeg' })
    shas.push(stored.sha256)
  }
  return api('events', '/cases', { method: 'POST', json: { ...item.body, photos: shas, client_ref: item.key } })
}

async function sendPoints(item) {
  return api('assessment', `/patrols/${item.patrolId}/points`, { method: 'POST', json: { points: item.points } })
}

export const sent = []  // what the flushes answered, newest last (the screens read it)

async function flushOnce() {
  const items = await tx('readonly', (store) => store.getAll())
  items.sort((a, b) => a.created - b.created)
  for (const item of items) {
    if (item.error) continue  // refused before: shown on the queue, not resent
    try {
      const answer = item.kind === 'report' ? await sendReport(item) : await sendPoints(item)
      await remove(item.key)
      sent.push({ key: item.key, kind: item.kind, answer })
      queueState.lastError = ''
    } catch (error) {
      if (error instanceof OfflineError) break  // still no network: try again later
      if (error instanceof ApiError && (error.status === 401 || error.status === 429 || error.status >= 500)) {
        queueState.lastError = error.message
        break  // signed out, throttled or a service down: keep it, try again later
      }
      await mark(item, error.message)  // refused for what it is: kept and shown, not resent
    }
  }
}

let running = null

export function flush() {
  if (!navigator.onLine) return Promise.resolve()
  running ??= (async () => {
    queueState.flushing = true
    try {
      if (navigator.locks) await navigator.locks.request('gridgov-app-outbox', flushOnce)
      else await flushOnce()
    } finally {
      queueState.flushing = false
      running = null
      await refreshQueue()
    }
  })()
  return running
}

export function startQueue() {
  window.addEventListener('online', () => flush())
  refreshQueue().then(() => flush())
}
