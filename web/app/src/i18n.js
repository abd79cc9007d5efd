// zh-CN first, en beside it; the fixed codes' names come from labels.json, generated from
// gridgov_common/contract/labels.py (tests/unit/test_app_labels.py holds them equal).
import { ref } from 'vue'
import labels from '../../shared/labels.json'

const saved = localStorage.getItem('gridgov.app.lang')
export const lang = ref(saved === 'en' ? 'en' : 'zh-CN')

export function setLang(value) {
  lang.value = value
  localStorage.setItem('gridgov.app.lang', value)
  document.documentElement.lang = value
}
document.documentElement.lang = lang.value

const MESSAGES = {
  'zh-CN': {
    app: '网格员工作台', signIn: '登录', login: '账号', password: '密码', signOut: '退出登录',
    signInFailed: '账号或密码错误', home: '首页', report: '上报', cases: '我的案件', patrol: '巡查',
    me: '我的', todos: '今日待办', noTodos: '今日没有待办', compliance: '今日巡查',
    patrolled: '已巡查', notPatrolled: '尚未巡查', inGrid: '在网格内时间', minutes: '分钟',
    category: '事项类别', pickCategory: '请选择事项类别', description: '问题描述',
    descriptionHint: '请描述看到的情况', photos: '现场照片', location: '位置', useGps: '用 GPS 定位',
    dragPin: '拖动图钉或点击地图调整位置', onSpot: '已现场处置', submit: '提交上报',
    majorEvent: '重大事件一键上报', majorSent: '已上报，镇（街道）已收到预警',
    queued: '无网络：已存入待发送队列，恢复网络后自动发送', sent: '已上报', queue: '待发送',
    queueItems: '条待发送', sendNow: '立即发送', offline: '离线', online: '在线',
    caseNumber: '案件编号', status: '状态', timeline: '处理经过', returnVisit: '回访',
    satisfied: '满意', notSatisfied: '不满意', note: '回访说明', save: '提交', back: '返回',
    noCases: '暂无案件', start: '开始巡查', stop: '结束巡查', points: '已上传轨迹点',
    workLog: '工作日志', workLogHint: '今天做了什么', residents: '本网格居民', unmask: '查看完整信息',
    reason: '查看理由', language: 'English', required: '必填', failed: '发送失败',
    gridMap: '网格地图', pin: '事发位置图钉', inbox: '通知', meetings: '会议提醒', loading: '加载中',
    notAllowed: '您的角色不能查看完整信息', actions: '可办理', saved: '已保存',
  },
  en: {
    app: 'Grid worker', signIn: 'Sign in', login: 'Login', password: 'Password', signOut: 'Sign out',
    signInFailed: 'Wrong login or password', home: 'Home', report: 'Report', cases: 'My cases',
    patrol: 'Patrol', me: 'Me', todos: "Today's to-dos", noTodos: 'Nothing to do today',
    compliance: "Today's patrol", patrolled: 'Patrolled', notPatrolled: 'Not patrolled yet',
    inGrid: 'Time in grid', minutes: 'min', category: 'Category', pickCategory: 'Choose a category',
    description: 'Description', descriptionHint: 'Describe what you see', photos: 'Photos',
    location: 'Location', useGps: 'Locate by GPS', dragPin: 'Drag the pin or tap the map to adjust',
    onSpot: 'Resolved on the spot', submit: 'Send report', majorEvent: 'Report a major event',
    majorSent: 'Reported: the town has been alerted',
    queued: 'No network: queued, sent when the network is back', sent: 'Reported', queue: 'Queued',
    queueItems: 'waiting to be sent', sendNow: 'Send now', offline: 'Offline', online: 'Online',
    caseNumber: 'Case number', status: 'Status', timeline: 'Timeline', returnVisit: 'Return visit',
    satisfied: 'Satisfied', notSatisfied: 'Not satisfied', note: 'Note', save: 'Submit', back: 'Back',
    noCases: 'No cases yet', start: 'Start patrol', stop: 'Stop patrol', points: 'Points sent',
    workLog: 'Work log', workLogHint: 'What you did today', residents: 'Residents of my grid',
    unmask: 'Show in full', reason: 'Reason', language: '中文', required: 'Required',
    failed: 'Failed to send', gridMap: 'Grid map', pin: 'Location pin', inbox: 'Notices',
    meetings: 'Meeting reminders', loading: 'Loading', notAllowed: 'Your role may not unmask',
    actions: 'Actions', saved: 'Saved',
  },
}

export function t(key) {
  return MESSAGES[lang.value][key] ?? key
}

export function label(table, code) {
  if (code == null) return ''
  return labels[lang.value][table]?.[code] ?? String(code)
}

export function subcategoryName(sub) {
  return lang.value === 'en' ? sub.name_en || sub.name_zh : sub.name_zh
}
