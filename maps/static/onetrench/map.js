/* onetrench review map runtime: layer registry, lazy popups, date filter, z-order.
 * Part of onetrench (MIT). No network access; everything it needs is in the page. */
(function () {
  "use strict";
  var OT = (window.onetrench = window.onetrench || {});
  OT.layers = OT.layers || {};
  OT.order = OT.order || [];
  OT.day = null;

  function visible(props, day) {
    if (!day || !props.s) return true;
    return props.s <= day && day <= props.e;
  }

  /** Assemble a popup from a feature's compact parts (all strings were escaped by the server). */
  OT.popupHtml = function (p) {
    var h = p.t ? '<div class="ot-popup-title">' + p.t + "</div>" : "";
    if (p.r && p.r.length) {
      h += "<table>" + p.r.map(function (r) {
        return "<tr><th>" + (OT.labels || [])[r[0]] + "</th><td>" + r[1] + "</td></tr>";
      }).join("") + "</table>";
    }
    if (p.x) h += p.x;
    if (p.g && p.g.length) h += OT.gantt(p.g);
    if (p.f && p.f.length) {
      h += "<div><b>相关问题 Findings (" + p.f.length + ")</b></div>";
      p.f.slice(0, 30).forEach(function (i) { h += (OT.blocks || [])[i] || ""; });
      if (p.f.length > 30) h += "<div>…… 另有 " + (p.f.length - 30) + " 条 more</div>";
    }
    return h;
  };

  function escText(v) {
    return String(v).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function dayNum(iso) { return Date.parse(iso + "T00:00:00Z") / 86400000; }
  function km(m) { var k = Math.floor(m / 1000), r = Math.round(m % 1000); return "K" + k + "+" + ("00" + r).slice(-3); }

  /** The per-road timeline (Gantt) as inline SVG: one row per work, planned bar (hatched when a
   * bundle moves it) and the "after" window of its bundle; blackouts shaded; month ticks.
   * Rows are [id (escaped), utility, start, end, from_m, to_m, afterStart|null, afterEnd|null]. */
  OT.gantt = function (rows) {
    var cfg = OT.config || {}, colours = cfg.colours || {}, names = cfg.utilities || {};
    var lo = Infinity, hi = -Infinity;
    rows.forEach(function (r) {
      [r[2], r[3], r[6], r[7]].forEach(function (d) {
        if (d) { lo = Math.min(lo, dayNum(d)); hi = Math.max(hi, dayNum(d) + 1); }
      });
    });
    lo -= 5; hi += 5;
    var left = 150, width = 560, plot = width - left - 10, rowH = 20, top = 18;
    var height = top + rows.length * rowH + 20;
    var x = function (d) { return left + (d - lo) / (hi - lo) * plot; };
    var svg = '<svg class="ot-gantt" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + width + " " + height +
      '" width="' + width + '" height="' + height + '" font-size="10">';
    svg += '<defs><pattern id="ot-hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<line x1="0" y1="0" x2="0" y2="4" stroke="#555" stroke-width="1.2"/></pattern></defs>';
    (cfg.blackouts || []).forEach(function (b) {
      var a = Math.max(lo, dayNum(b.s)), e = Math.min(hi, dayNum(b.e) + 1);
      if (a < e) svg += '<rect x="' + x(a) + '" y="' + top + '" width="' + (x(e) - x(a)) + '" height="' +
        rows.length * rowH + '" fill="#cfd8dc"><title>' + escText(b.zh + " " + b.en) + "</title></rect>";
    });
    var d0 = new Date(lo * 86400000);
    var m = new Date(Date.UTC(d0.getUTCFullYear(), d0.getUTCMonth() + 1, 1));
    var step = (hi - lo) > 400 ? 3 : 1;
    while (m.getTime() / 86400000 < hi) {
      var xm = x(m.getTime() / 86400000);
      svg += '<line x1="' + xm + '" y1="' + top + '" x2="' + xm + '" y2="' + (top + rows.length * rowH) +
        '" stroke="#ddd"/><text x="' + xm + '" y="' + (top + rows.length * rowH + 13) + '" text-anchor="middle" fill="#555">' +
        m.toISOString().slice(0, 7) + "</text>";
      m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + step, 1));
    }
    rows.forEach(function (r, i) {
      var y = top + i * rowH, c = colours[r[1]] || "#888";
      var a = x(dayNum(r[2])), e = x(dayNum(r[3]) + 1);
      svg += '<text x="4" y="' + (y + 9) + '" fill="#222">' + r[0] + " " + (names[r[1]] || "") + "</text>" +
        '<text x="4" y="' + (y + 18) + '" fill="#777" font-size="9">' + km(r[4]) + "–" + km(r[5]) + "</text>";
      if (r[6]) {
        svg += '<rect x="' + a + '" y="' + (y + 3) + '" width="' + Math.max(1, e - a) + '" height="14" fill="' + c +
          '" fill-opacity="0.25" stroke="' + c + '"/><rect x="' + a + '" y="' + (y + 3) + '" width="' +
          Math.max(1, e - a) + '" height="14" fill="url(#ot-hatch)" opacity="0.5"/>';
        var pa = x(dayNum(r[6])), pe = x(dayNum(r[7]) + 1);
        svg += '<rect x="' + pa + '" y="' + (y + 7) + '" width="' + Math.max(1, pe - pa) + '" height="7" fill="' + c +
          '" stroke="#000" stroke-width="0.6"><title>建议（调整后） proposed ' + r[6] + " — " + r[7] + "</title></rect>";
      } else {
        svg += '<rect x="' + a + '" y="' + (y + 3) + '" width="' + Math.max(1, e - a) + '" height="14" fill="' + c +
          '"><title>' + r[2] + " — " + r[3] + "</title></rect>";
      }
    });
    svg += '<text x="4" y="11" fill="#333">色条=计划 planned · 斜线=调整前 before · 黑框=调整后 after · 灰=禁止施工 blackout</text>';
    return '<div class="ot-timeline"><b>施工时序 Timeline</b>' + svg + "</svg></div>";
  };

  /** Register a drawn layer: key, the group in the layer control, its main GeoJSON and all parts. */
  OT.register = function (key, map, group, main, parts, opts) {
    OT.map = map;
    var entry = {
      key: key,
      group: group,
      main: main,
      parts: parts,
      all: parts.map(function (p) { return p.getLayers(); }),
      kind: (opts && opts.kind) || "other",
      styles: (opts && opts.styles) || []
    };
    OT.layers[key] = entry;
    if (opts && opts.labels) {
      main.eachLayer(function (l) {
        var text = l.feature && l.feature.properties && l.feature.properties.l;
        if (text) l.bindTooltip(text, { permanent: true, direction: "top", offset: L.point(0, -14), className: "ot-label-" + key.replace(/[^a-z_]/g, "_") });
      });
    }
    OT.order.push(key);
    main.on("click", function (e) {
      var f = e.layer && e.layer.feature;
      if (f && f.properties) {
        var html = OT.popupHtml(f.properties);
        var wide = html.indexOf("<svg") >= 0;
        if (html) {
          // keep popups clear of the title/date panels (top left) on wide screens
          var pad = map.getSize().x > 1000 ? L.point(340, 10) : L.point(5, 5);
          L.popup({
            maxWidth: wide ? 760 : 460, minWidth: wide ? 560 : 50, maxHeight: wide ? 560 : 380,
            autoPanPaddingTopLeft: pad
          })
            .setLatLng(e.latlng).setContent(html).openOn(map);
        }
      }
    });
    return entry;
  };

  /** Scale line widths with the zoom: thin works at district scale, findings keep a minimum
   * width so 重复开挖 stays visible over the thinned works ("simplification at low zoom"). */
  OT.rescale = function () {
    var z = OT.map.getZoom();
    var f = Math.min(1, Math.max(0.2, Math.pow(2, (z - 16) / 1.5)));
    if (OT.scale === f) return;
    OT.scale = f;
    OT.order.forEach(function (key) {
      var entry = OT.layers[key];
      var floorShare = entry.kind === "finding" ? 0.45 : 0;
      entry.parts.forEach(function (part, i) {
        var base = entry.styles[i];
        if (!base) return;
        part.setStyle(function (feat) {
          var s = Object.assign({}, base), p = feat.properties || {};
          if (p.w) s.weight = p.w;
          if (p.c) { s.color = p.c; s.fillColor = p.c; }
          s.weight = Math.max(1, s.weight * floorShare, s.weight * f);
          return s;
        });
      });
    });
  };

  /** Re-add every visible feature in registration order so the canvas keeps roads at the bottom. */
  OT.restack = function () {
    OT.order.forEach(function (key) {
      var entry = OT.layers[key];
      entry.parts.forEach(function (part, i) {
        part.clearLayers();
        entry.all[i].forEach(function (l) {
          if (visible(l.feature.properties, OT.day)) part.addLayer(l);
        });
      });
    });
  };

  /** Number of features each layer currently shows (read from the Leaflet objects). */
  OT.counts = function () {
    var out = {};
    OT.order.forEach(function (key) {
      var e = OT.layers[key];
      out[key] = { shown: e.main.getLayers().length, onMap: OT.map.hasLayer(e.group), total: e.all[e.all.length - 1].length };
    });
    return out;
  };

  function addDays(iso, n) {
    var d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  function daysBetween(a, b) {
    return Math.round((new Date(b + "T00:00:00Z") - new Date(a + "T00:00:00Z")) / 86400000);
  }

  /** Show only what is open on ``day`` ("YYYY-MM-DD"), or everything when ``day`` is null. */
  OT.setDay = function (day) {
    OT.day = day || null;
    OT.restack();
    var status = document.getElementById("ot-status");
    if (!status) return;
    var open = 0;
    OT.order.forEach(function (key) {
      if (OT.layers[key].kind === "work") open += OT.layers[key].main.getLayers().length;
    });
    var text = OT.day ? OT.day + " 在施工程 " + open + " 项 / works open: " + open : "全部日期 all dates";
    var cfg = OT.config || {};
    (cfg.blackouts || []).forEach(function (b) {
      if (OT.day && b.s <= OT.day && OT.day <= b.e) text += " · ⚠ " + b.zh + " " + b.en + "（禁止施工 blackout）";
    });
    status.textContent = text;
  };

  /** Build the date filter panel (a Leaflet control) from OT.config = {min, max, blackouts}. */
  OT.dateControl = function (map, html) {
    var cfg = OT.config || {};
    var ctl = L.control({ position: "topleft" });
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "ot-panel ot-datefilter");
      div.innerHTML = html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    ctl.addTo(map);
    var dayInput = document.getElementById("ot-day");
    var slider = document.getElementById("ot-slider");
    var all = document.getElementById("ot-all");
    if (!dayInput || !cfg.min) return ctl;
    var span = Math.max(0, daysBetween(cfg.min, cfg.max));
    dayInput.min = cfg.min;
    dayInput.max = cfg.max;
    dayInput.value = cfg.min;
    slider.min = 0;
    slider.max = span;
    slider.value = 0;
    function apply() { OT.setDay(all.checked ? null : dayInput.value); }
    slider.addEventListener("input", function () {
      dayInput.value = addDays(cfg.min, parseInt(slider.value, 10));
      all.checked = false;
      apply();
    });
    dayInput.addEventListener("change", function () {
      if (dayInput.value) slider.value = Math.min(span, Math.max(0, daysBetween(cfg.min, dayInput.value)));
      all.checked = false;
      apply();
    });
    all.addEventListener("change", apply);
    map.on("overlayadd", function () { OT.restack(); });
    return ctl;
  };

  /** Wire zoom-dependent styling once the map and all layers exist. */
  OT.start = function (map) {
    OT.map = map;
    // While a popup is open, fold the layer list and hide title and legend so nothing covers it.
    var box = map.getContainer();
    map.on("popupopen", function () {
      L.DomUtil.addClass(box, "ot-popup-open");
      var lc = box.querySelector(".leaflet-control-layers");
      if (lc) L.DomUtil.removeClass(lc, "leaflet-control-layers-expanded");
    });
    map.on("popupclose", function () {
      L.DomUtil.removeClass(box, "ot-popup-open");
      var lc = box.querySelector(".leaflet-control-layers");
      if (lc) L.DomUtil.addClass(lc, "leaflet-control-layers-expanded");
    });
    map.on("zoomend", OT.rescale);
    OT.rescale();
  };

  /** A static HTML control (legend, title). */
  OT.htmlControl = function (map, position, cls, html) {
    var ctl = L.control({ position: position });
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "ot-panel " + cls);
      div.innerHTML = html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    ctl.addTo(map);
    return ctl;
  };
})();
