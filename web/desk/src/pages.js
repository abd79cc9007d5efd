// Which pages (tabs) each role sees on the desk, in order (issue 14). One line per page:
// a workbench is one view file under views/ that registers its own words (addMessages).
// The case page is not a tab: every page links to it as #/case/<case id> (CasePage).
import DepartmentBench from './views/DepartmentBench.vue'
import DelayDecisions from './views/DelayDecisions.vue'
import DepartmentStanding from './views/DepartmentStanding.vue'
import SupervisionCards from './views/SupervisionCards.vue'
import WorkReview from './views/WorkReview.vue'

export const PAGES = [
  { key: 'department', title: 'deptTitle', roles: ['department_officer'], component: DepartmentBench },
  { key: 'standing', title: 'standingTitle', roles: ['department_officer'], component: DepartmentStanding },
  { key: 'delays', title: 'delayDecisionsTitle', roles: ['town_grid_chief', 'district_admin'], component: DelayDecisions },
  { key: 'supervision', title: 'supervisionTitle', roles: ['town_grid_chief', 'community_grid_chief', 'district_admin', 'ops_viewer'], component: SupervisionCards },
  { key: 'work-review', title: 'workReviewTitle', roles: ['community_grid_chief', 'town_grid_chief'], component: WorkReview },
]

export function pagesFor(role) {
  return PAGES.filter((page) => page.roles.includes(role))
}
