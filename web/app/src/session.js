// Who is signed in, their grid and the catalogue; the last answers are kept in
// localStorage (no personal data: a name, a role, a scope, grid outlines, the catalogue),
// so the app opens and takes reports without a network.
import { reactive } from 'vue'
import { api, ApiError, get, OfflineError } from './api.js'

export const session = reactive({
  me: null, grid: null, catalogue: null, online: navigator.onLine, checked: false,
})

function cached(key) {
  try { return JSON.parse(localStorage.getItem(`gridgov.app.${key}`)) } catch { return null }
}
function keep(key, value) {
  localStorage.setItem(`gridgov.app.${key}`, JSON.stringify(value))
}

export function gridCode() {
  const scope = session.me?.scope || ''
  return scope.startsWith('grid:') ? scope.slice(5) : null
}

async function loadGrid() {
  let code = gridCode()
  if (!code) {
    const mine = await get('registry', '/staff/me')
    code = mine.grids?.[0]?.grid_code || mine.grids?.[0] || null
  }
  if (!code) return
  session.grid = await get('registry', `/grids/${code}`)
  keep('grid', session.grid)
}

async function loadCatalogue() {
  session.catalogue = await get('events', '/catalogue')
  keep('catalogue', session.catalogue)
}

export async function whoAmI() {
  // nobody has signed in on this phone (or they signed out): the sign-in form at once,
  // not after a round trip to the registry (a slow network, bench/bench_12_app.py); a
  // session found meanwhile (signed in elsewhere on this origin) still opens the app
  if (!cached('me')) session.checked = true
  try {
    session.me = await get('registry', '/auth/me')
    keep('me', session.me)
    await Promise.all([loadGrid(), loadCatalogue()])
  } catch (error) {
    if (error instanceof OfflineError) {
      session.me = cached('me')
      session.grid = cached('grid')
      session.catalogue = cached('catalogue')
    } else if (error instanceof ApiError && error.status === 401) {
      session.me = null
    } else {
      throw error
    }
  } finally {
    session.checked = true
  }
}

export async function signIn(login, password) {
  await api('registry', '/auth/sign-in', { method: 'POST', json: { login, password } })
  await whoAmI()
}

export async function signOut() {
  try { await api('registry', '/auth/sign-out', { method: 'POST' }) } catch { /* gone already */ }
  for (const key of ['me', 'grid', 'catalogue']) localStorage.removeItem(`gridgov.app.${key}`)
  session.me = null
}

window.addEventListener('online', () => { session.online = true })
window.addEventListener('offline', () => { session.online = false })
