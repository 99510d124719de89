/* The public outage map: search by place, account or village, or click the map. Shows
 * each outage's cause, start, estimated restoration and area; nothing personal. */
(function () {
    "use strict";
    var G = Gridcall, handle = null, drawn = null, pin = null;
    var KIND_NAMES = {"planned": "计划停电", "temporary": "临时停电", "fault": "故障停电"};
    var KIND_COLOURS = {"planned": "#1f78b4", "temporary": "#6a3d9a", "fault": "#b30000"};
    var list = document.getElementById("outage-list");
    var message = document.getElementById("search-message");

    function query(params, label, quiet) {
        message.textContent = quiet ? "" : "查询中…";
        var qs = new URLSearchParams(params).toString();
        return G.api("/api/public/outages" + (qs ? "?" + qs : ""), {auth: false})
            .then(function (answer) { show(answer, label); })
            .catch(function (e) {
                if (quiet) { return; }
                message.innerHTML = '<span class="text-danger">' + G.esc(e.message) + "</span>";
                list.innerHTML = "";
                if (drawn) { drawn.clearLayers(); }
            });
    }

    function card(o) {
        var colour = KIND_COLOURS[o.kind] || "#b30000";
        var status = o.status === "in_effect" ? "正在停电" : "即将停电";
        return '<div class="card mb-2 gc-outage" data-id="' + G.esc(o.id) + '" style="border-left:4px solid ' +
            colour + '"><div class="card-body p-2">' +
            '<div class="d-flex justify-content-between"><b>' + G.esc(KIND_NAMES[o.kind] || o.kind) +
            '</b><span class="badge bg-' + (o.status === "in_effect" ? "danger" : "secondary") + '">' +
            status + "</span></div>" +
            '<table class="gc-popup mt-1">' +
            "<tr><th>原因</th><td>" + G.esc(o.cause) + "</td></tr>" +
            "<tr><th>开始</th><td>" + G.esc(G.fmtTime(o.start)) + "</td></tr>" +
            "<tr><th>预计恢复</th><td>" + G.esc(o.estimated_restoration ? G.fmtTime(o.estimated_restoration) : "抢修中，尽快恢复") + "</td></tr>" +
            "<tr><th>影响范围</th><td>" + G.esc((o.areas || []).join("、")) + "</td></tr>" +
            "<tr><th>影响户数</th><td>" + G.esc(o.affected_customers) + "</td></tr>" +
            "<tr><th>编号</th><td>" + G.esc(o.id) + "</td></tr></table></div></div>";
    }

    function show(answer, label) {
        var outages = answer.outages || [];
        message.innerHTML = (label ? "<b>" + G.esc(label) + "</b>：" : "") + G.esc(answer.message || "");
        list.innerHTML = outages.map(card).join("");
        if (!handle) { return; }
        drawn.clearLayers();
        outages.forEach(function (o) {
            if (!o.affected_area) { return; }
            var colour = KIND_COLOURS[o.kind] || "#b30000";
            L.geoJSON(o.affected_area, {style: {color: colour, weight: 2, fillColor: colour, fillOpacity: 0.3}})
                .bindPopup(card(o), {maxWidth: 360}).addTo(drawn);
        });
        document.getElementById("map-box").setAttribute("data-outages-drawn", String(drawn.getLayers().length));
        var bounds = drawn.getBounds();
        if (bounds.isValid() && outages.length) { handle.map.fitBounds(bounds, {maxZoom: 14, padding: [30, 30]}); }
    }

    document.getElementById("search-form").addEventListener("submit", function (event) {
        event.preventDefault();
        var text = document.getElementById("search-text").value.trim();
        var kind = document.getElementById("search-kind").value;
        if (!text) { return; }
        if (kind === "auto") { kind = /^[0-9\s-]{6,}$/.test(text) ? "account" : "area"; }
        if (kind === "account") { query({account_no: text}, "户号 " + text); }
        else { query({area: text}, text); }
    });

    G.whenMap(function (h) {
        handle = h;
        drawn = L.featureGroup().addTo(h.map);
        h.control.addOverlay(drawn, "停电区域");
        h.map.on("click", function (e) {
            if (pin) { h.map.removeLayer(pin); }
            pin = L.circleMarker(e.latlng, {radius: 7, color: "#000", fillColor: "#ffd400", fillOpacity: 1}).addTo(h.map);
            query({lon: e.latlng.lng.toFixed(6), lat: e.latlng.lat.toFixed(6)}, "地图上的位置");
        });
    });
    // what is out now, county-wide
    query({}, window.GC_COUNTY ? window.GC_COUNTY + " 当前停电" : "当前停电", true);
})();
