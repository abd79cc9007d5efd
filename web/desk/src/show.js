// How every desk page shows a time, a place and a refusal: one way, so that a time reads
// the same on every page (the district's time, whatever the computer's zone) and a
// refusal names the fields it is about.
import { ElMessage } from 'element-plus'
import { ApiError } from './api.js'
import { addMessages, label, lang, t } from './i18n.js'

export const DISTRICT_TZ = 'Asia/Shanghai'

export function localTime(iso, empty = '') {
  return iso ? new Date(iso).toLocaleString(lang.value, { hour12: false, timeZone: DISTRICT_TZ }) : empty
}

// a moment's time of day on the district's clock, as every other time the desk shows
export function localClock(date) {
  return date ? date.toLocaleTimeString(lang.value, { hour12: false, timeZone: DISTRICT_TZ }) : ''
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

// An automatic supervision card's reason (督办, P6.2) in the page's language, from its
// codes — why (kind), the department (its name in this language), the missed due time,
// the ladder's level and the card — not from the sentence dispatch stored for the bus and
// the case file, which is Chinese. A card issued by hand (kind ``manual``) keeps its
// issuer's own words, as does a card whose kind this page does not know.
addMessages({
  'zh-CN': {
    cardWhy_ack_timeout: '{who}未在签收时限内报到（应于 {due} 前签收）；第 {level} 级{card}',
    cardWhy_overdue: '{who}超过办理时限未报告结果（应于 {due} 前办结）；第 {level} 级{card}',
    cardWhy_unroutable: '{who}没有绑定接收队列，派遣消息无法投递，请配置部门对接',
    cardWhyLocal: '承办网格/社区', cardWhyPlain: '督办',
  },
  en: {
    cardWhy_ack_timeout: '{who} did not sign for it in time (due by {due}); level {level}: {card}',
    cardWhy_overdue: '{who} reported no result within the handling limit (due by {due}); level {level}: {card}',
    cardWhy_unroutable: '{who} has no queue bound, so the assignment cannot be delivered: set up the department\'s connection',
    cardWhyLocal: 'the grid or community handling it', cardWhyPlain: 'supervision',
  },
})

export function cardReason({ kind, level, card, department, departmentName, due, stored }) {
  const template = `cardWhy_${kind}`
  if (kind === 'manual' || t(template) === template) return stored || ''
  const who = department ? (departmentName || department) : t('cardWhyLocal')
  return t(template).replace('{who}', who).replace('{due}', localTime(due, '—'))
    .replace('{level}', level).replace('{card}', card ? label('card', card) : t('cardWhyPlain'))
}
