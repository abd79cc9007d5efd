// Which pages (tabs) each role sees on the desk, in order (issue 14). One line per page:
// a workbench is one view file under views/ that registers its own words (addMessages).
// The case page is not a tab: every page links to it as #/case/<case id> (CasePage).
import DepartmentBench from './views/DepartmentBench.vue'
import DepartmentStanding from './views/DepartmentStanding.vue'
import LocalBench from './views/LocalBench.vue'
import DelayDecisions from './views/DelayDecisions.vue'
import SupervisionCards from './views/SupervisionCards.vue'
import WorkReview from './views/WorkReview.vue'
import StaffBench from './views/StaffBench.vue'
import DistrictCirculars from './views/DistrictCirculars.vue'
import DistrictAudit from './views/DistrictAudit.vue'
import DistrictAssessment from './views/DistrictAssessment.vue'
import DistrictCalendar from './views/DistrictCalendar.vue'
import DistrictMasterData from './views/DistrictMasterData.vue'
import OpsWall from './views/OpsWall.vue'

// the first of a role's pages opens after sign-in: its most frequent task
export const PAGES = [
  { key: 'department', title: 'deptTitle', roles: ['department_officer'], component: DepartmentBench },
  { key: 'standing', title: 'standingTitle', roles: ['department_officer'], component: DepartmentStanding },
  { key: 'local', title: 'localBenchTitle', roles: ['town_grid_chief', 'community_grid_chief', 'grid_instructor', 'community_grid_worker'], component: LocalBench },
  { key: 'circulars', title: 'dcTitle', roles: ['district_admin'], component: DistrictCirculars },
  { key: 'wall', title: 'wallTitle', roles: ['ops_viewer', 'district_admin', 'town_grid_chief'], component: OpsWall },
  { key: 'delays', title: 'delayDecisionsTitle', roles: ['town_grid_chief', 'district_admin'], component: DelayDecisions },
  { key: 'supervision', title: 'supervisionTitle', roles: ['town_grid_chief', 'community_grid_chief', 'district_admin', 'ops_viewer'], component: SupervisionCards },
  { key: 'work-review', title: 'workReviewTitle', roles: ['community_grid_chief', 'town_grid_chief'], component: WorkReview },
  { key: 'staff', title: 'staffTitle', roles: ['town_grid_chief', 'community_grid_chief', 'district_admin'], component: StaffBench },
  { key: 'assessment', title: 'drTitle', roles: ['district_admin'], component: DistrictAssessment },
  { key: 'calendar', title: 'dkTitle', roles: ['district_admin'], component: DistrictCalendar },
  { key: 'master-data', title: 'dmTitle', roles: ['district_admin'], component: DistrictMasterData },
  { key: 'audit', title: 'daTitle', roles: ['district_admin'], component: DistrictAudit },
]

export function pagesFor(role) {
  return PAGES.filter((page) => page.roles.includes(role))
}
