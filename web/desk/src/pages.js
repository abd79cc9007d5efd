// Which pages (tabs) each role sees on the desk, in order (issue 14). One line per page:
// a workbench is one view file under views/ that registers its own words (addMessages).
// The case page is not a tab: every page links to it as #/case/<case id> (CasePage).
import DepartmentBench from './views/DepartmentBench.vue'
import LocalBench from './views/LocalBench.vue'
import StaffBench from './views/StaffBench.vue'

export const PAGES = [
  { key: 'department', title: 'deptTitle', roles: ['department_officer'], component: DepartmentBench },
  { key: 'local', title: 'localBenchTitle', roles: ['town_grid_chief', 'community_grid_chief', 'grid_instructor', 'community_grid_worker'], component: LocalBench },
  { key: 'staff', title: 'staffTitle', roles: ['town_grid_chief', 'community_grid_chief', 'district_admin'], component: StaffBench },
]

export function pagesFor(role) {
  return PAGES.filter((page) => page.roles.includes(role))
}
