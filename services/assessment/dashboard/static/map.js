/* The grid map: GeoJSON polygons projected equirectangularly (longitude scaled by the
   cosine of the mid latitude) and fitted into the SVG box. No tiles, no library. */
"use strict";

(function () {
  var SVG_NS = "http://www.w3.org/2000/svg";
  var WIDTH = 800;
  var HEIGHT = 520;
  var PAD = 10;
  var FILL = { none: "#4caf50", open: "#ffb300", overdue: "#e53935" };

  function rings(geometry) {
    if (!geometry) { return []; }
    if (geometry.type === "Polygon") { return geometry.coordinates; }
    if (geometry.type === "MultiPolygon") {
      return geometry.coordinates.reduce(function (all, polygon) {
        return all.concat(polygon);
      }, []);
    }
    return [];
  }

  function bounds(features) {
    var box = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
    features.forEach(function (feature) {
      rings(feature.geometry).forEach(function (ring) {
        ring.forEach(function (point) {
          box.minX = Math.min(box.minX, point[0]);
          box.maxX = Math.max(box.maxX, point[0]);
          box.minY = Math.min(box.minY, point[1]);
          box.maxY = Math.max(box.maxY, point[1]);
        });
      });
    });
    return box;
  }

  function projection(box) {
    var kx = Math.cos(((box.minY + box.maxY) / 2) * Math.PI / 180);
    var spanX = Math.max((box.maxX - box.minX) * kx, 1e-9);
    var spanY = Math.max(box.maxY - box.minY, 1e-9);
    var scale = Math.min((WIDTH - 2 * PAD) / spanX, (HEIGHT - 2 * PAD) / spanY);
    var offX = (WIDTH - spanX * scale) / 2;
    var offY = (HEIGHT - spanY * scale) / 2;
    return function (point) {
      var x = offX + (point[0] - box.minX) * kx * scale;
      var y = offY + (box.maxY - point[1]) * scale;
      return x.toFixed(1) + " " + y.toFixed(1);
    };
  }

  function pathData(geometry, project) {
    return rings(geometry).map(function (ring) {
      return "M" + ring.map(project).join(" L") + " Z";
    }).join(" ");
  }

  function level(counts) {
    if (counts.overdue > 0) { return "overdue"; }
    if (counts.open > 0) { return "open"; }
    return "none";
  }

  function el(name, attributes) {
    var node = document.createElementNS(SVG_NS, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    return node;
  }

  /* Draw one path per grid; counts: {grid_code: {open, overdue}}; t: the dictionary. */
  function draw(svg, collection, counts, t, tooltip) {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var features = (collection && collection.features) || [];
    svg.setAttribute("data-grid-count", String(features.length));
    if (!features.length) { return; }
    var project = projection(bounds(features));
    features.forEach(function (feature) {
      var props = feature.properties || {};
      var code = props.grid_code;
      var c = counts[code] || { open: 0, overdue: 0 };
      var lvl = level(c);
      // names first (grid, community, town), the code beside them
      var place = [props.name, props.community_name, props.town_name].filter(Boolean);
      var label = (place.length ? place.join(" · ") + " (" + code + ")" : t.grid + " " + code) +
        " · " + t.open + " " + c.open + " · " + t.overdue + " " + c.overdue;
      var path = el("path", {
        d: pathData(feature.geometry, project), "class": "grid grid-" + lvl,
        fill: FILL[lvl], stroke: "#263238", "stroke-width": "1", "fill-rule": "evenodd",
        "data-grid-code": code, "data-open": String(c.open),
        "data-overdue": String(c.overdue), "data-level": lvl, tabindex: "0"
      });
      var title = el("title", {});
      title.textContent = label;
      path.appendChild(title);
      path.addEventListener("mouseenter", function () {
        tooltip.textContent = label;
        tooltip.hidden = false;
      });
      path.addEventListener("mouseleave", function () { tooltip.hidden = true; });
      svg.appendChild(path);
    });
  }

  window.GRIDGOV_MAP = { draw: draw, level: level, FILL: FILL };
}());
