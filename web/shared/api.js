// Every service through the one origin of the reverse proxy: /api/<service>/… (the
// cookies are per origin). A state-changing request carries the CSRF cookie's value in
// X-CSRF-Token (double submit, docs/SECURITY.md "Sign-in and sessions"); a 401 refreshes
// the access cookie once. Shared by the app (web/app) and the workbenches (web/desk); the
// language asked for is the page's own (<html lang>, set by each site's i18n.js).

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message || code)
    this.status = status
    this.code = code
    this.fields = fields || {}
  }
}

export class OfflineError extends Error {}

function cookie(name) {
  const hit = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`))
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : ''
}

let refreshing = null

async function refresh() {
  if (!cookie('gridgov_csrf')) return false
  refreshing ??= fetch('/api/registry/auth/refresh', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'X-CSRF-Token': cookie('gridgov_csrf'), Accept: 'application/json' },
  }).then((r) => r.ok, () => false).finally(() => { refreshing = null })
  return refreshing
}

export async function api(service, path, { method = 'GET', json, body, contentType, retry = true } = {}) {
  const headers = { Accept: 'application/json', 'Accept-Language': document.documentElement.lang || 'zh-CN' }
  if (method !== 'GET') headers['X-CSRF-Token'] = cookie('gridgov_csrf')
  let payload = body
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(json)
  } else if (contentType) {
    headers['Content-Type'] = contentType
  }
  let response
  try {
    response = await fetch(`/api/${service}${path}`, { method, headers, body: payload, credentials: 'same-origin' })
  } catch {
    throw new OfflineError('offline')
  }
  if (response.status === 401 && retry && !path.startsWith('/auth/')) {
    if (await refresh()) return api(service, path, { method, json, body, contentType, retry: false })
  }
  if (!response.ok) {
    let error = {}
    try { error = (await response.json()).error || {} } catch { /* not JSON */ }
    throw new ApiError(response.status, error.code || String(response.status), error.message,
      error.fields)
  }
  if (response.status === 204) return null
  return response.json()
}

export const get = (service, path) => api(service, path)
export const post = (service, path, json) => api(service, path, { method: 'POST', json })
