/* A feeder's one-line diagram on Leaflet's L.CRS.Simple (diagram units, not lon/lat):
 * line sections, switches (hollow when open), transformers, and what open incidents cut off. */
(function () {
    "use strict";
    var G = Gridcall;
    var map = L.map("schematic-map", {crs: L.CRS.Simple, minZoom: -5, maxZoom: 6, zoomSnap: 0.25});
    var layer = L.featureGroup().addTo(map);
    var select = document.getElementById("feeder-select");
    var info = document.getElementById("schematic-info");

    function style(f) {
        var p = f.properties, dead = !!p.incident_id;
        if (p.kind === "switch") { return {color: dead ? "#e31a1c" : "#000", weight: 5}; }
        if (p.kind === "transformer") { return {color: dead ? "#e31a1c" : "#6a3d9a", weight: 3}; }
        return {color: dead ? "#e31a1c" : "#1f4e79", weight: dead ? 4 : 2};
    }

    function mid(geometry) {
        var c = geometry.type === "LineString" ? geometry.coordinates : null;
        if (!c) { return geometry.type === "Point" ? geometry.coordinates : null; }
        return c[c.length - 1];
    }

    function load(feeder) {
        if (!feeder) { return; }
        history.replaceState(null, "", "/schematic/" + encodeURIComponent(feeder));
        G.api("/api/map/schematic/" + encodeURIComponent(feeder)).then(function (fc) {
            layer.clearLayers();
            var counts = {line: 0, "switch": 0, transformer: 0}, dead = {};
            L.geoJSON(fc, {
                style: style,
                onEachFeature: function (f, l) {
                    var p = f.properties;
                    counts[p.kind] = (counts[p.kind] || 0) + 1;
                    if (p.incident_id) { dead[p.incident_id] = true; }
                    l.bindTooltip(G.esc(p.element_id + (p.name ? " " + p.name : "") +
                        (p.device_kind_name ? " · " + p.device_kind_name : "") + (p.state === "open" ? " · 分闸" : "") +
                        (p.incident_id ? " · 停电（" + p.incident_id + "）" : "")));
                }
            }).addTo(layer);
            fc.features.forEach(function (f) {
                var p = f.properties, at = mid(f.geometry);
                if (!at || (p.kind !== "switch" && p.kind !== "transformer")) { return; }
                var ll = L.latLng(at[1], at[0]);
                if (p.faulted_device) {
                    L.marker(ll, {icon: G.deviceIcon(p.kind === "transformer" ? "transformer" : p.device_kind, "#b30000")})
                        .bindTooltip(G.esc("故障设备 " + p.element_id + " · " + p.incident_id)).addTo(layer);
                } else if (p.kind === "switch") {
                    L.circleMarker(ll, {radius: 4, color: "#000", weight: 1.5,
                        fillColor: p.state === "open" ? "#fff" : "#000", fillOpacity: 1}).addTo(layer);
                } else {
                    L.circleMarker(ll, {radius: 3, color: "#6a3d9a", fillColor: "#6a3d9a", fillOpacity: 1}).addTo(layer);
                }
            });
            var b = fc.bounds;
            map.fitBounds([[b[1] - 1, b[0] - 1], [b[3] + 1, b[2] + 1]]);
            info.innerHTML = G.esc(fc.feeder) + "：" + counts.line + " 段线路，" + counts["switch"] + " 台开关，" +
                counts.transformer + " 台变压器" + (Object.keys(dead).length ?
                "<br><span class='text-danger'>停电事件：" + G.esc(Object.keys(dead).join("、")) + "</span>" : "");
        }).catch(function (e) { info.innerHTML = '<span class="text-danger">' + G.esc(e.message) + "</span>"; });
    }

    G.api("/api/map/feeders").then(function (feeders) {
        select.innerHTML = feeders.map(function (f) {
            return "<option value='" + G.esc(f.feeder) + "'>" + G.esc(f.feeder) + "（" + G.esc(f.substation_name || "") + "）</option>";
        }).join("");
        var want = window.GC_FEEDER || (feeders[0] && feeders[0].feeder);
        select.value = want;
        load(want);
    }).catch(function (e) { info.textContent = e.message; });
    select.addEventListener("change", function () { load(select.value); });
})();
