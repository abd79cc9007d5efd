// Which pages (tabs) each role sees on the desk, in order (issue 14). One line per page:
// a workbench is one view file under views/ that registers its own words (addMessages).
// The case page is not a tab: every page links to it as #/case/<case id> (CasePage).
import DepartmentBench from './views/DepartmentBench.vue'
import OpsWall from './views/OpsWall.vue'

export const PAGES = [
  { key: 'department', title: 'deptTitle', roles: ['department_officer'], component: DepartmentBench },
  { key: 'wall', title: 'wallTitle', roles: ['ops_viewer', 'district_admin', 'town_grid_chief'], component: OpsWall },
]

export function pagesFor(role) {
  return PAGES.filter((page) => page.roles.includes(role))
}
