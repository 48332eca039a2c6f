"""maps layer of onetrench (see design.md, "Map conventions"): review maps, bundle maps, timelines.

Every function takes domain objects in the working CRS and returns a string or bytes; nothing
here touches the database or HTTP. HTML pages are offline: Leaflet (vendored in
``maps/static/``) and the page runtime are inlined, no CDN, no tile server unless
``Settings.map_tile_url`` is set.

- :func:`maps.review.review_map` — the review map (one HTML document).
- :func:`maps.bundle.bundle_map`, :func:`maps.bundle.bundle_png` — one bundle, HTML / PNG.
- :func:`maps.static.render_png` — the review layers as a static PNG (matplotlib).
- :func:`maps.timeline.road_timeline`, :func:`maps.timeline.road_timeline_png` — per-road
  Gantt as HTML (inline SVG) / PNG.
- :func:`maps.output.write_maps` — all of the above into a directory (``--out DIR``).

PNG, SVG and HTML outputs are byte-stable: same input, same bytes.
"""
