/* The operations centre page: polls /dashboard/data and renders every section.
   Plain ES2019 (no optional chaining, no build step); strings from GRIDGOV_I18N. */
"use strict";

(function () {
  var TOKEN_KEY = "gridgov.dashboard.token";
  var LANG_KEY = "gridgov.dashboard.lang";
  var FEED_LIMIT = 50;
  var I18N = window.GRIDGOV_I18N;
  var LABELS = window.GRIDGOV_LABELS;  // names of fixed codes (gridgov_common/contract/labels.py)
  var MAP = window.GRIDGOV_MAP;
  var body = document.body;
  var state = { lang: "zh-CN", token: "", data: null, seen: null, feed: [], timer: null,
                polls: 0 };

  function $(id) { return document.getElementById(id); }
  function t() { return I18N[state.lang]; }

  /* The language is kept across visits (localStorage); the token only for this tab's
     session (sessionStorage): closing the tab signs out. */
  function store(area, key, value) {
    try {
      var where = window[area];
      if (value === undefined) { return where.getItem(key) || ""; }
      if (value === null) { where.removeItem(key); return ""; }
      where.setItem(key, value);
    } catch (e) { /* private mode: the page still works for this visit */ }
    return value || "";
  }
  function storage(key, value) { return store("localStorage", key, value); }
  function session(key, value) { return store("sessionStorage", key, value); }

  /* Signing in never puts the token in a URL the server sees (access logs keep URLs;
     the server refuses ?token= with 400 credential_in_url). Two ways in: the sign-in form,
     or a link with the token in the fragment (#token=…), which browsers never send; the
     page moves it to sessionStorage and strips it from the address bar and history. */
  function readParams() {
    var params = new URLSearchParams(window.location.search);
    var lang = params.get("lang") || storage(LANG_KEY) || body.getAttribute("data-lang");
    state.lang = I18N[lang] ? lang : "zh-CN";
    storage(TOKEN_KEY, null);  // pages before issue 10 kept it in localStorage: forget it
    var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    if (fragment.get("token")) {
      session(TOKEN_KEY, fragment.get("token").trim());
      fragment.delete("token");
      var rest = fragment.toString();
      window.history.replaceState(null, "", window.location.pathname + window.location.search +
                                  (rest ? "#" + rest : ""));
    }
    state.token = session(TOKEN_KEY);
  }

  function text(node, value) { node.textContent = value; return node; }

  function make(tag, attributes, content) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      node.setAttribute(key, attributes[key]);
    });
    if (content !== undefined && content !== null) { node.textContent = String(content); }
    return node;
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : (rate * 100).toFixed(1) + "%";
  }

  function when(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? String(iso) : date.toLocaleString(state.lang);
  }

  function applyStaticStrings() {
    document.documentElement.setAttribute("lang", state.lang);
    body.setAttribute("data-lang", state.lang);
    document.title = t().title;
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      text(node, t()[node.getAttribute("data-i18n")]);
    });
    var toggle = $("lang-toggle");
    text(toggle, t().toggle);
    toggle.setAttribute("data-lang-target", state.lang === "en" ? "zh-CN" : "en");
    var legend = $("map-legend");
    legend.innerHTML = "";
    ["none", "open", "overdue"].forEach(function (lvl) {
      var item = make("span", { "class": "legend legend-" + lvl, "data-level": lvl });
      item.appendChild(make("i", { "class": "swatch swatch-" + lvl }));
      item.appendChild(document.createTextNode(t()["legend_" + lvl]));
      legend.appendChild(item);
    });
  }

  /* A table: columns [{key, label, format}], rows of objects; attrs(row) per <tr>. */
  function table(id, columns, rows, attrs) {
    var node = $(id);
    var head = node.querySelector("thead");
    var tbody = node.querySelector("tbody");
    head.innerHTML = "";
    tbody.innerHTML = "";
    var tr = make("tr");
    columns.forEach(function (c) {
      tr.appendChild(make("th", { "data-field": c.key }, t()[c.key]));
    });
    head.appendChild(tr);
    if (!rows.length) {
      tbody.appendChild(make("tr", { "class": "empty" })).appendChild(
        make("td", { colspan: String(columns.length) }, t().no_rows));
      return;
    }
    rows.forEach(function (row) {
      var line = make("tr", attrs(row));
      columns.forEach(function (c) {
        var value = c.format ? c.format(row[c.key]) : row[c.key];
        line.appendChild(make("td", { "data-field": c.key }, value === null ? "—" : value));
      });
      tbody.appendChild(line);
    });
  }

  function departmentName(departments) {
    var names = {};
    (departments || []).forEach(function (d) {
      names[d.code] = state.lang === "en" ? d.name_en : d.name_zh;
    });
    return function (code) { return names[code] || code; };
  }

  function renderDepartments(cases, departments) {
    table("departments", [
      { key: "department", format: departmentName(departments) }, { key: "assigned" },
      { key: "acked" }, { key: "acked_on_time" },
      { key: "overdue" }, { key: "closed" }, { key: "closure_rate", format: percent }
    ], cases ? cases.by_department : [], function (row) {
      return { "data-department": row.department, "class": row.overdue > 0 ? "alert" : "" };
    });
  }

  function townName(grids) {
    // the registry's grid features carry their town's name (shown with the code)
    var names = {};
    ((grids && grids.features) || []).forEach(function (f) {
      var p = f.properties || {};
      if (p.town_code && p.town_name) { names[p.town_code] = p.town_name; }
    });
    return function (code) { return names[code] ? names[code] + " (" + code + ")" : code; };
  }

  function renderTowns(cases, grids) {
    table("towns", [
      { key: "rank" }, { key: "town_code", format: townName(grids) }, { key: "total" },
      { key: "open" },
      { key: "overdue" }, { key: "closure_rate", format: percent },
      { key: "on_time_rate", format: percent }
    ], cases ? cases.by_town : [], function (row) {
      return { "data-town-code": row.town_code, "data-rank": String(row.rank) };
    });
  }

  function renderQueues(queues) {
    table("queues", [
      { key: "queue" }, { key: "messages" }, { key: "ready" }, { key: "unacked" },
      { key: "consumers" }, { key: "dlq_messages" }
    ], queues ? queues.queues.map(function (q) {
      return Object.assign({ queue: q.name }, q);
    }) : [], function (row) {
      return { "data-queue": row.name, "data-alert": String(row.alert),
               "class": row.alert ? "alert" : "" };
    });
  }

  function renderHealth(rows) {
    var list = $("health");
    list.innerHTML = "";
    (rows || []).forEach(function (row) {
      var item = make("li", { "data-service": row.service, "data-status": row.status,
                              "class": "health-" + row.status });
      item.appendChild(make("span", { "class": "service-name" }, row.service));
      item.appendChild(make("span", { "class": "service-status" },
        t()["status_" + row.status] + (row.detail ? " (" + row.detail + ")" : "")));
      list.appendChild(item);
    });
  }

  /* A code as the platform's tables name it (case states, work categories, escalation
     kinds, cards, roles), else as is. */
  function label(group, value) {
    var names = (LABELS[state.lang] || {})[group] || {};
    return names[value] || value;
  }

  /* Grid codes by the registry's names: "锦绣一网格 · 枫桥街道". */
  function placeName(code) {
    var features = (state.data && state.data.grids && state.data.grids.features) || [];
    for (var i = 0; i < features.length; i += 1) {
      var p = features[i].properties || {};
      if (p.grid_code === code) {
        return [p.name, p.town_name].filter(Boolean).join(" · ") || code;
      }
    }
    return code;
  }

  /* Items keep raw codes and are labelled at render time, so the toggle relabels them. */
  function feedItems(cases) {
    if (!cases) { return []; }
    var items = cases.recent.map(function (c) {
      return { key: "case:" + c.case_id + ":" + c.state + ":" + c.updated_at, kind: "case",
               at: c.updated_at, number: c.case_number, card: "",
               parts: [["case_state", c.state], ["work_category", c.work_category],
                       ["subcategory", c.subcategory_name], ["place", c.grid_code]] };
    }).concat(cases.escalations.map(function (e) {
      return { key: "esc:" + e.case_number + ":" + e.kind + ":" + e.level + ":" + e.at,
               kind: "escalation", at: e.at, number: e.case_number, card: e.card || "",
               parts: [["escalation_kind", e.kind], ["card", e.card],
                       e.department ? ["department", e.department]
                                    : ["role", e.target_role]] };
    }));
    return items.sort(function (a, b) { return a.at < b.at ? 1 : a.at > b.at ? -1 : 0; });
  }

  function feedDetail(item) {
    var department = departmentName(state.data && state.data.departments);
    return item.parts.filter(function (part) { return part[1]; }).map(function (part) {
      if (part[0] === "department") { return department(part[1]); }
      if (part[0] === "place") { return placeName(part[1]); }
      if (part[0] === "subcategory") { return part[1][state.lang] || part[1]["zh-CN"]; }
      return label(part[0], part[1]);
    }).join(" · ");
  }

  function updateFeed(cases) {
    if (!cases) { return; }
    var first = state.seen === null;
    state.seen = state.seen || {};
    feedItems(cases).reverse().forEach(function (item) {
      if (state.seen[item.key]) { return; }
      state.seen[item.key] = true;
      item.isNew = !first;
      state.feed.unshift(item);
    });
    state.feed = state.feed.slice(0, FEED_LIMIT);
  }

  function renderFeed() {
    var list = $("feed");
    list.innerHTML = "";
    state.feed.forEach(function (item) {
      var li = make("li", { "data-kind": item.kind, "data-case-number": item.number,
                            "data-card": item.card, "data-new": String(item.isNew),
                            "class": "feed-" + item.kind +
                                     (item.card ? " card-" + item.card : "") });
      li.appendChild(make("time", {}, when(item.at)));
      li.appendChild(make("b", {}, t()["kind_" + item.kind]));
      li.appendChild(make("span", { "class": "case-number" }, item.number));
      li.appendChild(make("span", { "class": "detail" }, feedDetail(item)));
      if (item.isNew) { li.appendChild(make("em", { "class": "new" }, t().new_item)); }
      list.appendChild(li);
    });
  }

  function renderErrors(errors) {
    var box = $("errors");
    box.innerHTML = "";
    Object.keys(errors || {}).forEach(function (section) {
      box.appendChild(make("div", { "class": "error", "data-section": section },
        t()["section_" + section] + ": " + t().unavailable + " — " + errors[section]));
    });
  }

  function gridCounts(cases) {
    var counts = {};
    (cases ? cases.by_grid : []).forEach(function (g) { counts[g.grid_code] = g; });
    return counts;
  }

  function render() {
    applyStaticStrings();
    var data = state.data;
    if (!data) { return; }
    text($("updated"), t().updated + " " + when(data.generated_at));
    MAP.draw($("map"), data.grids, gridCounts(data.cases), t(), $("map-tooltip"));
    renderFeed();
    renderDepartments(data.cases, data.departments);
    renderTowns(data.cases, data.grids);
    renderQueues(data.queues);
    renderHealth(data.health);
    renderErrors(data.errors);
  }

  function setStatus(name, message) {
    body.setAttribute("data-state", name);
    var status = $("status");
    status.setAttribute("data-state", name);
    text(status, message || "");
  }

  function askForToken(message) {
    state.token = session(TOKEN_KEY, null);  // a refused token is not tried again
    $("login").hidden = false;
    setStatus("login", message);
  }

  function poll() {
    if (!state.token) { askForToken(t().need_token); return; }
    fetch("/dashboard/data", { headers: { Authorization: "Bearer " + state.token },
                               cache: "no-store" })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          throw { login: true, status: response.status };
        }
        if (!response.ok) { throw { status: response.status }; }
        return response.json();
      })
      .then(function (data) {
        state.data = data;
        state.polls += 1;
        body.setAttribute("data-polls", String(state.polls));
        updateFeed(data.cases);
        $("login").hidden = true;
        render();
        setStatus("ready", t().ok);
      })
      .catch(function (problem) {
        if (problem && problem.login) { askForToken(t().need_token); return; }
        var code = problem && problem.status ? " (" + problem.status + ")" : "";
        setStatus("error", t().failed + code);
      });
  }

  function start() {
    readParams();
    applyStaticStrings();
    setStatus("loading", t().loading);
    $("lang-toggle").addEventListener("click", function () {
      state.lang = state.lang === "en" ? "zh-CN" : "en";
      storage(LANG_KEY, state.lang);
      var params = new URLSearchParams(window.location.search);
      params.set("lang", state.lang);
      window.history.replaceState(null, "", window.location.pathname + "?" + params.toString());
      render();
    });
    $("login").addEventListener("submit", function (event) {
      event.preventDefault();
      state.token = session(TOKEN_KEY, $("token-input").value.trim());
      $("token-input").value = "";
      poll();
    });
    poll();
    var seconds = parseInt(body.getAttribute("data-refresh"), 10) || 10;
    state.timer = window.setInterval(poll, seconds * 1000);
  }

  start();
}());
