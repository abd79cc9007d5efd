import { createApp } from 'vue'
import {
  Button, Cell, CellGroup, Empty, Field, Form, NavBar, Radio, RadioGroup, Step, Steps, Switch,
  Tabbar, TabbarItem, Tag, Uploader,
} from 'vant'
// each component's own style (and Vant's base) rather than the whole of vant/lib/index.css:
// a phone on a slow network downloads a quarter of it (bench/bench_12_app.py)
import 'vant/es/button/style/index'
import 'vant/es/cell/style/index'
import 'vant/es/cell-group/style/index'
import 'vant/es/empty/style/index'
import 'vant/es/field/style/index'
import 'vant/es/form/style/index'
import 'vant/es/nav-bar/style/index'
import 'vant/es/radio/style/index'
import 'vant/es/radio-group/style/index'
import 'vant/es/step/style/index'
import 'vant/es/steps/style/index'
import 'vant/es/switch/style/index'
import 'vant/es/tabbar/style/index'
import 'vant/es/tabbar-item/style/index'
import 'vant/es/tag/style/index'
import 'vant/es/uploader/style/index'
import './app.css'
import App from './App.vue'

const app = createApp(App)
for (const component of [Button, Cell, CellGroup, Empty, Field, Form, NavBar, Radio, RadioGroup,
  Step, Steps, Switch, Tabbar, TabbarItem, Tag, Uploader]) app.use(component)
app.mount('#app')

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {})
}
