// Patrol state on the phone (P5.4.3): the open patrol, the GPS points not yet sent (sent
// in batches of BATCH or every FLUSH_MS; each point has its own id, so a re-sent batch is
// ignored by the server), and the time in grid so far, counted from the points: the time
// between two consecutive points inside the grid's outline.
import { reactive } from 'vue'
import { api } from './api.js'
import { enqueue, flush, newKey } from './queue.js'
import { session } from './session.js'

const BATCH = 20
const FLUSH_MS = 60000
const KEY = 'gridgov.app.patrol'

export const patrol = reactive(JSON.parse(localStorage.getItem(KEY) || 'null') || {
  id: null, startedAt: null, pending: [], sent: 0, inGridMs: 0, last: null, day: null,
})
let watchId = null
let timer = null

function save() { localStorage.setItem(KEY, JSON.stringify(patrol)) }

function rings(g) {
  if (!g) return []
  return g.type === 'Polygon' ? [g.coordinates[0]] : g.type === 'MultiPolygon' ? g.coordinates.map((p) => p[0]) : []
}
export function inside(point, geometry) {
  return rings(geometry).some((ring) => {
    let hit = false
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i]; const [xj, yj] = ring[j]
      if ((yi > point.lat) !== (yj > point.lat) && point.lon < ((xj - xi) * (point.lat - yi)) / (yj - yi) + xi) hit = !hit
    }
    return hit
  })
}

function today() { return new Date().toISOString().slice(0, 10) }

export function addPoint(coords, at = new Date()) {
  const point = { id: newKey(), lon: +coords.longitude.toFixed(6), lat: +coords.latitude.toFixed(6), recorded_at: at.toISOString() }
  if (patrol.day !== today()) { patrol.day = today(); patrol.inGridMs = 0 }
  const here = inside(point, session.grid?.geometry)
  if (patrol.last && patrol.last.inside && here) patrol.inGridMs += Math.max(0, at - new Date(patrol.last.at))
  patrol.last = { at: point.recorded_at, inside: here }
  patrol.pending.push(point)
  save()
  if (patrol.pending.length >= BATCH) sendPoints()
}

export async function sendPoints() {
  if (!patrol.id || !patrol.pending.length) return
  // plain data: IndexedDB cannot clone Vue's reactive proxies
  const points = JSON.parse(JSON.stringify(patrol.pending.splice(0, patrol.pending.length)))
  patrol.sent += points.length
  save()
  // through the outbox: without a network the batch waits there, like a report
  await enqueue('points', { patrolId: patrol.id, points })
  await flush()
}

function watch() {
  if (!navigator.geolocation || watchId !== null) return
  watchId = navigator.geolocation.watchPosition((p) => addPoint(p.coords, new Date(p.timestamp || Date.now())),
    () => {}, { enableHighAccuracy: true, maximumAge: 5000 })
  timer = setInterval(sendPoints, FLUSH_MS)
}

export async function start() {
  const started = await api('assessment', '/patrols', { method: 'POST', json: {} })
  Object.assign(patrol, { id: started.patrol_id, startedAt: started.started_at, pending: [], sent: 0, last: null })
  save()
  watch()
}

export async function stop() {
  await sendPoints()
  await api('assessment', `/patrols/${patrol.id}/stop`, { method: 'POST', json: {} })
  if (watchId !== null) navigator.geolocation.clearWatch(watchId)
  clearInterval(timer)
  watchId = null
  Object.assign(patrol, { id: null, startedAt: null, last: null })
  save()
}

export function resume() { if (patrol.id) watch() }
