import { createApp } from 'vue'
import {
  Button, Cell, CellGroup, Empty, Field, Form, NavBar, Radio, RadioGroup, Step, Steps, Switch,
  Tabbar, TabbarItem, Tag, Uploader,
} from 'vant'
import 'vant/lib/index.css'
import './app.css'
import App from './App.vue'

const app = createApp(App)
for (const component of [Button, Cell, CellGroup, Empty, Field, Form, NavBar, Radio, RadioGroup,
  Step, Steps, Switch, Tabbar, TabbarItem, Tag, Uploader]) app.use(component)
app.mount('#app')

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {})
}
