/* The residents' report page and status page (issue 12, docs/RESIDENT-REPORTS.md).
   Vanilla script, no library, no CDN: the map is SVG drawn from the grid outlines the
   registry publishes (WGS84 lon/lat, Web Mercator on screen); a raster base map only when
   the operator configured a tile-URL template (RESIDENT_TILE_URL). */
"use strict";

(function () {
  var body = document.body;
  var lang = body.getAttribute("data-lang") === "en" ? "en" : "zh-CN";
  var T = {
    "zh-CN": {
      intro: "无需注册。请选择问题类别，在地图上点选位置，描述问题；可附照片和回访电话。",
      category: "问题类别", place: "问题位置", map: "网格地图：点击标出问题位置",
      map_help: "在地图上点击问题所在位置，或填写经纬度（WGS84），或使用当前位置。",
      lon: "经度", lat: "纬度", locate: "使用我的当前位置",
      description: "问题描述", photo: "照片（可选，JPEG/PNG/WebP，5 MB 以内）",
      phone: "回访电话（可选）",
      phone_help: "仅用于回访，加密保存，工作人员查看需说明理由并留痕；不会公开。",
      submit: "提交", receipt: "已受理", case_number: "案件编号",
      follow: "查询办理进度", to_status: "已有案件编号？查询办理进度",
      to_report: "我要反映问题", lookup: "查询",
      working: "正在进行防滥用验证，请稍候…", uploading: "正在上传照片…",
      sending: "正在提交…", done: "提交成功。", choose: "请选择",
      need_category: "请选择问题类别。", need_place: "请在地图上标出问题位置。",
      need_description: "请描述问题。", need_case: "请输入案件编号。",
      phone_kept: "回访电话（已加密保存）：", failed: "提交失败：",
      not_found: "未找到该案件编号对应的公开案件。",
      status: "状态", status_open: "办理中", status_closed: "已办结", note: "进度",
      agency: "承办部门", received: "受理时间", updated: "更新时间", expected: "预计办结",
      result: "案件 ", pinned: "已标出位置：", no_grids: "暂无网格数据，可直接填写经纬度。",
      locate_failed: "无法获取当前位置。"
    },
    en: {
      intro: "No account needed. Choose what the problem is, pin it on the map and describe " +
        "it; you may add a photo and a phone for a call-back.",
      category: "What is the problem?", place: "Where is it?",
      map: "Grid map: select to pin the problem",
      map_help: "Select the place on the map, or enter longitude and latitude (WGS84), or " +
        "use your current position.",
      lon: "Longitude", lat: "Latitude", locate: "Use my current position",
      description: "Describe the problem", photo: "Photo (optional, JPEG/PNG/WebP, up to 5 MB)",
      phone: "Phone for a call-back (optional)",
      phone_help: "Only to call you back; kept encrypted; staff who read it must give a " +
        "reason, which is recorded. Never published.",
      submit: "Send", receipt: "Received", case_number: "Case number",
      follow: "Follow this report", to_status: "Have a case number? Follow your report",
      to_report: "Report a problem", lookup: "Look up",
      working: "Checking that you are not a robot (a few seconds of work)…",
      uploading: "Uploading the photo…", sending: "Sending…", done: "Sent.",
      choose: "Choose", need_category: "Choose what the problem is.",
      need_place: "Pin the place on the map.", need_description: "Describe the problem.",
      need_case: "Enter the case number.", phone_kept: "Call-back phone (kept encrypted): ",
      failed: "Not sent: ", not_found: "No public case has this number.",
      status: "Status", status_open: "Being handled", status_closed: "Closed", note: "Progress",
      agency: "Handled by", received: "Received", updated: "Updated", expected: "Expected by",
      result: "Case ", pinned: "Pinned at ", no_grids: "No grids to show: enter longitude " +
        "and latitude.", locate_failed: "Your position is not available."
    }
  }[lang];

  function $(id) { return document.getElementById(id); }
  function text(el, value) { if (el) { el.textContent = value; } }

  Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (el) {
    var key = el.getAttribute("data-i18n");
    if (T[key] !== undefined) { el.textContent = T[key]; }
  });

  function api(method, path, data, contentType) {
    var headers = {"Accept": "application/json", "Accept-Language": lang};
    var payload;
    if (data !== undefined) {
      headers["Content-Type"] = contentType || "application/json";
      payload = contentType ? data : JSON.stringify(data);
    }
    return fetch(path, {method: method, headers: headers, body: payload,
                        credentials: "omit", cache: "no-store"})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          if (!response.ok) {
            var err = (json && json.error) || {};
            var error = new Error(err.message || String(response.status));
            error.status = response.status;
            error.code = err.code;
            error.fields = err.fields || {};
            throw error;
          }
          return json;
        });
      });
  }

  function showError(message) {
    var box = $("errors");
    box.textContent = "";
    if (message) {
      var p = document.createElement("p");
      p.textContent = message;
      box.appendChild(p);
    }
  }

  /* ---- SHA-256 (FIPS 180-4) of an ASCII string, as 8 32-bit words ---- */
  var K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2];
  var W = new Array(64);
  function ror(x, n) { return (x >>> n) | (x << (32 - n)); }
  function sha256(str) {
    var bytes = [], i, t;
    for (i = 0; i < str.length; i++) { bytes.push(str.charCodeAt(i) & 0xff); }
    var bits = bytes.length * 8;
    bytes.push(0x80);
    while (bytes.length % 64 !== 56) { bytes.push(0); }
    bytes.push(0, 0, 0, 0, (bits >>> 24) & 255, (bits >>> 16) & 255, (bits >>> 8) & 255,
               bits & 255);
    var H = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
             0x1f83d9ab, 0x5be0cd19];
    for (var off = 0; off < bytes.length; off += 64) {
      for (t = 0; t < 16; t++) {
        i = off + 4 * t;
        W[t] = (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3];
      }
      for (t = 16; t < 64; t++) {
        var s0 = ror(W[t - 15], 7) ^ ror(W[t - 15], 18) ^ (W[t - 15] >>> 3);
        var s1 = ror(W[t - 2], 17) ^ ror(W[t - 2], 19) ^ (W[t - 2] >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
      }
      var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (t = 0; t < 64; t++) {
        var t1 = (h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[t] +
                  W[t]) | 0;
        var t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0;
      H[3] = (H[3] + d) | 0; H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0;
      H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
    }
    return H;
  }
  function zeroBits(H) {
    for (var i = 0, n = 0; i < 8; i++) {
      var w = H[i] >>> 0;
      if (w !== 0) { return n + Math.clz32(w); }
      n += 32;
    }
    return n;
  }
  /* the proof of work, in slices so the page stays responsive */
  function solve(challenge) {
    return new Promise(function (resolve) {
      var counter = 0;
      (function slice() {
        var stop = counter + 5000;
        for (; counter < stop; counter++) {
          if (zeroBits(sha256(challenge.challenge + ":" + counter)) >= challenge.bits) {
            resolve(counter);
            return;
          }
        }
        setTimeout(slice, 0);
      })();
    });
  }
  window.gridgovSha256 = sha256;  /* for the tests: the same function the page uses */

  /* ---- the map: grid outlines as SVG, Web Mercator ---- */
  var SVGNS = "http://www.w3.org/2000/svg";
  var VIEW_W = 600, VIEW_H = 400, TILE = 256;
  var view = null;  /* {zoom, x0, y0, scale} */

  function mercX(lon, zoom) { return (lon + 180) / 360 * TILE * Math.pow(2, zoom); }
  function mercY(lat, zoom) {
    var s = Math.sin(lat * Math.PI / 180);
    return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE * Math.pow(2, zoom);
  }
  function unX(x, zoom) { return x / (TILE * Math.pow(2, zoom)) * 360 - 180; }
  function unY(y, zoom) {
    var n = Math.PI - 2 * Math.PI * y / (TILE * Math.pow(2, zoom));
    return 180 / Math.PI * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
  }
  function toView(lon, lat) {
    return [(mercX(lon, view.zoom) - view.x0) * view.scale,
            (mercY(lat, view.zoom) - view.y0) * view.scale];
  }
  function rings(geometry) {
    if (geometry.type === "Polygon") { return geometry.coordinates; }
    if (geometry.type === "MultiPolygon") {
      return [].concat.apply([], geometry.coordinates);
    }
    return [];
  }
  function el(name, attrs) {
    var node = document.createElementNS(SVGNS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function drawMap(grids) {
    var svg = $("map");
    var minLon = 180, maxLon = -180, minLat = 90, maxLat = -90;
    grids.forEach(function (g) {
      rings(g.geometry).forEach(function (ring) {
        ring.forEach(function (p) {
          minLon = Math.min(minLon, p[0]); maxLon = Math.max(maxLon, p[0]);
          minLat = Math.min(minLat, p[1]); maxLat = Math.max(maxLat, p[1]);
        });
      });
    });
    if (!grids.length) { text($("progress"), T.no_grids); return; }
    var zoom = 18;  /* the largest zoom at which the district fits the frame */
    while (zoom > 1 && (mercX(maxLon, zoom) - mercX(minLon, zoom) > VIEW_W * 0.9 ||
                        mercY(minLat, zoom) - mercY(maxLat, zoom) > VIEW_H * 0.9)) {
      zoom--;
    }
    var cx = (mercX(minLon, zoom) + mercX(maxLon, zoom)) / 2;
    var cy = (mercY(maxLat, zoom) + mercY(minLat, zoom)) / 2;
    view = {zoom: zoom, x0: cx - VIEW_W / 2, y0: cy - VIEW_H / 2, scale: 1};
    var tiles = body.getAttribute("data-tile-url");
    if (tiles) { drawTiles(svg, tiles); }
    var layer = el("g", {"class": "grids"});
    grids.forEach(function (g) {
      var d = rings(g.geometry).map(function (ring) {
        return "M" + ring.map(function (p) {
          var v = toView(p[0], p[1]);
          return v[0].toFixed(1) + " " + v[1].toFixed(1);
        }).join("L") + "Z";
      }).join(" ");
      var path = el("path", {d: d, "class": "grid", "data-grid-code": g.grid_code});
      var title = el("title", {});
      title.textContent = g.name;
      path.appendChild(title);
      layer.appendChild(path);
    });
    svg.appendChild(layer);
    svg.addEventListener("click", function (event) {
      var point = svg.createSVGPoint();
      point.x = event.clientX; point.y = event.clientY;
      var local = point.matrixTransform(svg.getScreenCTM().inverse());
      var lon = unX(view.x0 + local.x / view.scale, view.zoom);
      var lat = unY(view.y0 + local.y / view.scale, view.zoom);
      setPin(lon, lat, true);
    });
  }

  function drawTiles(svg, template) {
    var layer = el("g", {"class": "tiles"});
    var n = Math.pow(2, view.zoom);
    for (var tx = Math.floor(view.x0 / TILE); tx * TILE < view.x0 + VIEW_W; tx++) {
      for (var ty = Math.floor(view.y0 / TILE); ty * TILE < view.y0 + VIEW_H; ty++) {
        if (ty < 0 || ty >= n) { continue; }
        var url = template.replace("{z}", view.zoom).replace("{x}", ((tx % n) + n) % n)
          .replace("{y}", ty).replace("{s}", "abc"[Math.abs(tx + ty) % 3]);
        layer.appendChild(el("image", {href: url, x: tx * TILE - view.x0,
                                        y: ty * TILE - view.y0, width: TILE, height: TILE}));
      }
    }
    svg.appendChild(layer);
    var attribution = body.getAttribute("data-tile-attribution");
    if (attribution) { text($("attribution"), attribution); $("attribution").hidden = false; }
  }

  function setPin(lon, lat, fromMap) {
    $("lon").value = lon.toFixed(6);
    $("lat").value = lat.toFixed(6);
    if (!view) { return; }
    var svg = $("map");
    var old = $("pin");
    if (old) { old.parentNode.removeChild(old); }
    var v = toView(lon, lat);
    var pin = el("circle", {id: "pin", cx: v[0].toFixed(1), cy: v[1].toFixed(1), r: 7,
                            "class": "pin"});
    svg.appendChild(pin);
    if (fromMap) { text($("progress"), T.pinned + $("lon").value + ", " + $("lat").value); }
  }

  function number(id) {
    var value = parseFloat($(id).value);
    return isFinite(value) ? value : null;
  }

  /* ---- the report page ---- */
  function reportPage() {
    api("GET", "/public/categories?lang=" + encodeURIComponent(lang)).then(function (items) {
      var select = $("category");
      select.addEventListener("change", function () {
        showAttributes(items.filter(function (c) { return c.code === select.value; })[0]);
      });
      var first = document.createElement("option");
      first.value = ""; first.textContent = T.choose;
      select.appendChild(first);
      items.forEach(function (c) {
        var option = document.createElement("option");
        option.value = c.code; option.textContent = c.name;
        select.appendChild(option);
      });
    }).catch(function (e) { showError(e.message); });
    api("GET", "/public/grids").then(drawMap).catch(function (e) { showError(e.message); });
    ["lon", "lat"].forEach(function (id) {
      $(id).addEventListener("change", function () {
        var lon = number("lon"), lat = number("lat");
        if (lon !== null && lat !== null) { setPin(lon, lat, false); }
      });
    });
    $("locate").addEventListener("click", function () {
      if (!navigator.geolocation) { showError(T.locate_failed); return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        setPin(pos.coords.longitude, pos.coords.latitude, true);
      }, function () { showError(T.locate_failed); });
    });
    $("report-form").addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
  }

  /* a category's attributes (Open311 service definition): a list is a select, else text */
  function showAttributes(category) {
    var box = $("attributes");
    box.textContent = "";
    ((category && category.attributes) || []).forEach(function (attr) {
      var div = document.createElement("div"), label = document.createElement("label");
      var id = "attr-" + attr.code, input;
      div.className = "field";
      label.setAttribute("for", id);
      label.textContent = attr.description || attr.code;
      if (attr.values && attr.values.length) {
        input = document.createElement("select");
        var blank = document.createElement("option");
        blank.value = ""; blank.textContent = T.choose;
        input.appendChild(blank);
        attr.values.forEach(function (v) {
          var option = document.createElement("option");
          option.value = v.key; option.textContent = v.name;
          input.appendChild(option);
        });
        if (attr.datatype === "multivaluelist") { input.multiple = true; }
      } else {
        input = document.createElement("input");
      }
      input.id = id;
      input.setAttribute("data-attribute", attr.code);
      input.setAttribute("data-datatype", attr.datatype);
      if (attr.required) { input.required = true; }
      div.appendChild(label); div.appendChild(input); box.appendChild(div);
    });
  }

  function attributeValues() {
    var values = {};
    Array.prototype.forEach.call(document.querySelectorAll("[data-attribute]"), function (el) {
      var code = el.getAttribute("data-attribute"), type = el.getAttribute("data-datatype");
      if (type === "multivaluelist") {
        var chosen = Array.prototype.filter.call(el.options, function (o) {
          return o.selected && o.value; }).map(function (o) { return o.value; });
        if (chosen.length) { values[code] = chosen; }
      } else if (el.value) {
        values[code] = type === "number" ? Number(el.value) : el.value;
      }
    });
    return values;
  }

  function submit() {
    showError("");
    var category = $("category").value, description = $("description").value.trim();
    var lon = number("lon"), lat = number("lat"), phone = $("phone").value.trim();
    if (!category) { showError(T.need_category); $("category").focus(); return; }
    if (lon === null || lat === null) { showError(T.need_place); $("lon").focus(); return; }
    if (!description) { showError(T.need_description); $("description").focus(); return; }
    var button = $("submit");
    button.disabled = true;
    var file = $("photo").files[0];
    var photos = Promise.resolve([]);
    if (file) {
      text($("progress"), T.uploading);
      photos = api("POST", "/public/photos", file, file.type || "application/octet-stream")
        .then(function (found) { return [found.sha256]; });
    }
    photos.then(function (hashes) {
      text($("progress"), T.working);
      return api("POST", "/public/challenge", {}).then(function (challenge) {
        return solve(challenge).then(function (counter) {
          text($("progress"), T.sending);
          var report = {solution: {challenge: challenge.challenge,
                                   signature: challenge.signature, counter: counter},
                        category: category, location: {lon: lon, lat: lat},
                        description: description, photos: hashes,
                        attributes: attributeValues()};
          if (phone) { report.phone = phone; }
          return api("POST", "/public/reports", report);
        });
      });
    }).then(function (receipt) {
      text($("progress"), T.done);
      $("report-form").hidden = true;
      text($("case-number"), receipt.case_number);
      text($("receipt-notice"), receipt.notice);
      if (receipt.callback_phone) {
        text($("receipt-phone"), T.phone_kept + receipt.callback_phone);
        $("receipt-phone").hidden = false;
      }
      $("status-link").href = "/report/status?lang=" + encodeURIComponent(lang) +
        "&case=" + encodeURIComponent(receipt.case_number);
      $("receipt").hidden = false;
      $("receipt-heading").focus();
    }).catch(function (e) {
      text($("progress"), "");
      var fields = Object.keys(e.fields || {}).map(function (k) {
        return k + ": " + [].concat(e.fields[k]).join(", ");
      }).join("; ");
      showError(T.failed + e.message + (fields ? " (" + fields + ")" : ""));
      button.disabled = false;
    });
  }

  /* ---- the status page ---- */
  function statusPage() {
    var params = new URLSearchParams(window.location.search);
    var given = params.get("case");
    $("lang-switch").href = "/report/status?lang=" + (lang === "en" ? "zh-CN" : "en") +
      (given ? "&case=" + encodeURIComponent(given) : "");
    $("status-form").addEventListener("submit", function (event) {
      event.preventDefault();
      lookup($("case").value.trim().toUpperCase());
    });
    if (given) { $("case").value = given; lookup(given); }
  }

  function lookup(number) {
    showError("");
    if (!number) { showError(T.need_case); return; }
    api("GET", "/public/reports/" + encodeURIComponent(number) + "?lang=" +
        encodeURIComponent(lang)).then(function (found) {
      text($("result-heading"), T.result + found.case_number);
      var list = $("result-list");
      list.textContent = "";
      [["category", found.category],
       ["status", found.status === "closed" ? T.status_closed : T.status_open],
       ["note", found.status_note], ["agency", found.agency],
       ["received", found.received_at], ["updated", found.updated_at],
       ["expected", found.expected_at]].forEach(function (row) {
        if (!row[1]) { return; }
        var dt = document.createElement("dt"), dd = document.createElement("dd");
        dt.textContent = row[0] === "category" ? T.category : T[row[0]];
        dd.textContent = row[1];
        dd.setAttribute("data-field", row[0]);
        list.appendChild(dt); list.appendChild(dd);
      });
      $("result").hidden = false;
    }).catch(function (e) {
      $("result").hidden = true;
      showError(e.status === 404 ? T.not_found : e.message);
    });
  }

  if (body.getAttribute("data-page") === "report") { reportPage(); } else { statusPage(); }
})();
