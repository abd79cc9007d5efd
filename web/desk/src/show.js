// How every desk page shows a time, a place and a refusal: one way, so that a time reads
// the same on every page (the district's time, whatever the computer's zone) and a
// refusal names the fields it is about.
import { ElMessage } from 'element-plus'
import { ApiError } from './api.js'
import { lang } from './i18n.js'

export const DISTRICT_TZ = 'Asia/Shanghai'

export function localTime(iso, empty = '') {
  return iso ? new Date(iso).toLocaleString(lang.value, { hour12: false, timeZone: DISTRICT_TZ }) : empty
}

// the town, community and grid names of a row (dispatch's `place`), else its grid code
export function placeWords(row) {
  const p = row.place || {}
  const words = [p.town, p.community, p.grid].filter(Boolean)
  return words.length ? words.join(' ') : row.grid_code
}

// a page's handler of a failed call: an ended session goes up to the desk (which says so
// in full), anything else is said with the fields the service named
export function failedWith(emit) {
  return (error) => {
    if (error instanceof ApiError && error.status === 401) { emit('ended'); return }
    const fields = error instanceof ApiError ? Object.values(error.fields || {}).flat().join('；') : ''
    ElMessage.error(fields ? `${error.message}：${fields}` : (error.message || String(error)))
  }
}

// a refusal's fields as one flat map, nested paths joined with dots ({"rules.3.lead": "…",
// "ack_limit.amount": "…"}), so that a form shows each message beside its own field
export function fieldsOf(error) {
  const flat = {}
  const walk = (value, path) => {
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      flat[path || '_schema'] = [flat[path || '_schema'], ...value].filter(Boolean).join(' ')
    } else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        walk(inner, key === '_schema' ? path : (path ? `${path}.${key}` : key))
      }
    } else if (value !== null && value !== undefined) {
      flat[path || '_schema'] = String(value)
    }
  }
  walk(error instanceof ApiError ? error.fields : {}, '')
  return flat
}
