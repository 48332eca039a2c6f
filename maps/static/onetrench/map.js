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
    if (p.f && p.f.length) {
      h += "<div><b>相关问题 Findings (" + p.f.length + ")</b></div>";
      p.f.slice(0, 30).forEach(function (i) { h += (OT.blocks || [])[i] || ""; });
      if (p.f.length > 30) h += "<div>…… 另有 " + (p.f.length - 30) + " 条 more</div>";
    }
    return h;
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
