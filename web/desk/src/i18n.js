// zh-CN first, en beside it. The fixed codes' names come from labels.json, generated from
// gridgov_common/contract/labels.py (a unit test holds them equal): people read names, not codes.
import { ref } from 'vue'
import zhCn from 'element-plus/es/locale/lang/zh-cn'
import en from 'element-plus/es/locale/lang/en'
import labels from '../../shared/labels.json'

const saved = localStorage.getItem('gridgov.desk.lang')
export const lang = ref(saved === 'en' ? 'en' : 'zh-CN')
export const elementLocale = (code) => (code === 'en' ? en : zhCn)

export function setLang(code) {
  lang.value = code
  localStorage.setItem('gridgov.desk.lang', code)
  document.documentElement.lang = code
}
document.documentElement.lang = lang.value

const MESSAGES = {
  'zh-CN': {
    title: '网格化服务管理工作台',
    login: '账号', password: '密码', signIn: '登录', signOut: '退出登录',
    signInFailed: '账号或密码不正确，或账号已锁定',
    sessionEnded: '登录已过期，请重新登录', language: 'English',
    notYet: '您的角色的工作台尚在建设中。', caseTitle: '案件', back: '返回', timeline: '办理经过',
    deptTitle: '部门工作台', assignments: '交办任务', state: '状态', all: '全部',
    overdueOnly: '只看超时', refresh: '刷新', updated: '更新于',
    caseNumber: '案件编号', what: '事项', where: '地点', priority: '紧急程度',
    role: '承办方式', deadline: '时限', actions: '操作',
    left: '剩余', late: '已超时', none: '—',
    days: '天', hours: '小时', minutes: '分钟',
    ack: '签收', progress: '反馈进展', result: '反馈结果', giveBack: '退回',
    delay: '申请延时', caseFile: '案卷',
    note: '说明', resolved: '是否已解决', yes: '已解决', no: '未解决',
    reason: '理由', newDue: '申请延至', photos: '照片（最多 9 张）', addPhoto: '添加照片',
    submit: '提交', cancel: '取消', done: '已提交', replayed: '已提交过，未重复办理',
    empty: '没有交办任务', tooBig: '照片不能超过 5 MB',
    ackDue: '签收时限', handleDue: '办结时限',
  },
  en: {
    title: 'Grid governance workbench',
    login: 'Login', password: 'Password', signIn: 'Sign in', signOut: 'Sign out',
    signInFailed: 'Wrong login or password, or the account is locked',
    sessionEnded: 'Your session has ended: please sign in again', language: '中文',
    notYet: 'The workbench of your role is being built.', caseTitle: 'Case', back: 'Back', timeline: 'Timeline',
    deptTitle: 'Department workbench', assignments: 'Assignments', state: 'State', all: 'All',
    overdueOnly: 'Overdue only', refresh: 'Refresh', updated: 'Updated',
    caseNumber: 'Case number', what: 'What', where: 'Where', priority: 'Priority',
    role: 'As', deadline: 'Deadline', actions: 'Actions',
    left: 'left', late: 'overdue', none: '—',
    days: 'd', hours: 'h', minutes: 'min',
    ack: 'Sign for', progress: 'Report progress', result: 'Report result', giveBack: 'Return',
    delay: 'Ask for more time', caseFile: 'Case file',
    note: 'Note', resolved: 'Resolved?', yes: 'Resolved', no: 'Not resolved',
    reason: 'Reason', newDue: 'New due time', photos: 'Photos (up to 9)', addPhoto: 'Add photo',
    submit: 'Submit', cancel: 'Cancel', done: 'Sent', replayed: 'Already sent: not applied twice',
    empty: 'No assignments', tooBig: 'A photo may be at most 5 MB',
    ackDue: 'Sign for by', handleDue: 'Handle by',
  },
}

// A view adds its own words beside the shared ones (one file per workbench, no shared
// list to edit): addMessages({'zh-CN': {...}, en: {...}}). A view may run it again (each
// time it is set up); a key given two different texts is a bug.
export function addMessages(more) {
  for (const code of Object.keys(MESSAGES)) {
    for (const [key, text] of Object.entries(more[code] || {})) {
      if (key in MESSAGES[code] && MESSAGES[code][key] !== text) {
        throw new Error(`desk message ${key} defined twice`)
      }
      MESSAGES[code][key] = text
    }
  }
}

export function t(key) {
  return MESSAGES[lang.value][key] ?? key
}

export function label(table, code) {
  if (code === null || code === undefined) return ''
  return labels[lang.value][table]?.[code] ?? String(code)
}

// a {zh-CN, en} pair from the API, in the page's language
export function named(pair, fallback) {
  return pair?.[lang.value] || pair?.['zh-CN'] || fallback || ''
}
