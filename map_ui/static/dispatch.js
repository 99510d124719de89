/* The dispatcher's board: open incidents and work orders on the map and in tables, the
 * crews, and the clocks about to run out, refreshed every 15 seconds from /api/map/board. */
(function () {
    "use strict";
    var G = Gridcall, handle = null, layers = null, selected = null, markers = {};
    var REFRESH_MS = 15000;

    function clockText(c) {
        var cls = c.state === "overdue" ? "gc-clock-overdue" : (c.state === "warning" ? "gc-clock-warning" : "");
        return '<span class="' + cls + '">' + G.esc(G.CLOCK_NAMES[c.kind] || c.kind) + " " +
            G.esc(G.fmtRemaining(c.remaining_s)) + "</span>";
    }

    function renderClocks(clocks) {
        var box = document.getElementById("clocks");
        if (!clocks.length) { box.innerHTML = '<div class="small text-muted">没有即将超时的时限。</div>'; return; }
        box.innerHTML = '<table class="table table-sm gc-table mb-0"><tbody>' + clocks.slice(0, 30).map(function (c) {
            return "<tr data-order='" + G.esc(c.order_id) + "'><td>" + G.esc(c.order_id) + "</td><td>" + clockText(c) +
                "</td><td>" + G.esc(G.fmtTime(c.deadline)) + "</td><td>" +
                (c.escalation > 0 ? '<span class="badge bg-danger">升级 ' + c.escalation + "</span>" : "") + "</td></tr>";
        }).join("") + "</tbody></table>";
    }

    function renderIncidents(incidents) {
        var body = document.querySelector("#incident-table tbody");
        body.innerHTML = incidents.map(function (i) {
            return "<tr class='gc-incident-row" + (i.id === selected ? " gc-selected" : "") + "' data-id='" + G.esc(i.id) + "'>" +
                "<td><span class='gc-sw gc-sw-dot' style='background:" + G.esc(i.colour) + "'></span> " + G.esc(i.id) + "</td>" +
                "<td>" + G.esc(i.device_id || "—") + " <span class='text-muted'>" + G.esc(i.device_kind_name) + "</span></td>" +
                "<td>" + G.esc(i.feeder || "") + "</td><td>" + G.esc(i.call_count) + "</td>" +
                "<td>" + G.esc(i.affected_customers === null ? "" : i.affected_customers) + "</td>" +
                "<td>" + G.esc(i.unit_name || "") + "</td><td>" + G.esc(i.state_name) + "</td>" +
                "<td>" + G.esc(G.fmtTime(i.opened_at)) + "</td></tr>";
        }).join("") || "<tr><td colspan='8' class='text-muted'>没有未恢复的故障事件。</td></tr>";
    }

    function renderOrders(orders) {
        var body = document.querySelector("#order-table tbody");
        body.innerHTML = orders.map(function (o) {
            var clocks = (o.clocks || []).map(clockText).join("<br>");
            return "<tr data-order='" + G.esc(o.order_id) + "' data-incident='" + G.esc(o.incident_id || "") + "'>" +
                "<td>" + G.esc(o.order_id) + "</td><td>" + G.esc(o.type) + "</td>" +
                "<td>" + G.esc(G.ORDER_STATUS_NAMES[o.status] || o.status) + "</td>" +
                "<td>" + G.esc(o.unit_name || o.department || "") + "</td><td>" + G.esc(o.crew_name || "—") + "</td>" +
                "<td>" + clocks + "</td></tr>";
        }).join("") || "<tr><td colspan='6' class='text-muted'>没有在办工单。</td></tr>";
    }

    function renderCrews(crews) {
        var body = document.querySelector("#crew-table tbody");
        body.innerHTML = crews.map(function (c) {
            return "<tr><td>" + G.esc(c.name) + "</td><td>" + G.esc(c.unit_name || "") + "</td><td>" +
                G.esc(G.CREW_STATUS_NAMES[c.status] || c.status) + "</td><td>" + G.esc(c.job_order_id || "") + "</td></tr>";
        }).join("") || "<tr><td colspan='4' class='text-muted'>没有班组（花名册未导入）。</td></tr>";
    }

    function drawBoard(b) {
        if (!handle) { return; }
        layers.incidents.clearLayers();
        layers.orders.clearLayers();
        layers.crews.clearLayers();
        markers = {};
        b.incidents.forEach(function (i) {
            if (i.lon === null || i.lat === null) { return; }
            var m = L.marker([i.lat, i.lon], {icon: G.deviceIcon(i.device_kind, i.colour)})
                .bindTooltip(G.esc(i.id + " · " + (i.device_id || "未判定") + " · " + i.call_count + " 个电话 · " + (i.unit_name || "")))
                .on("click", function () { select(i.id); });
            m.addTo(layers.incidents);
            markers[i.id] = m;
        });
        b.orders.forEach(function (o) {
            if (o.lon === null || o.lat === null || o.incident_id) { return; }
            L.circleMarker([o.lat, o.lon], {radius: 6, color: "#333", weight: 1, fillColor: "#1f78b4", fillOpacity: 0.9})
                .bindTooltip(G.esc(o.order_id + " · " + o.type + " · " + (G.ORDER_STATUS_NAMES[o.status] || o.status)))
                .addTo(layers.orders);
        });
        b.crews.forEach(function (c) {
            if (c.lon === null || c.lat === null) { return; }
            var colour = c.status === "available" ? "#33a02c" : (c.status === "off_duty" ? "#999" : "#ff7f00");
            L.marker([c.lat, c.lon], {icon: L.divIcon({className: "gc-label-icon", iconSize: [20, 20], iconAnchor: [10, 10],
                html: '<span class="gc-sw gc-sw-icon" style="background:' + colour + ';width:20px;height:20px"><i class="fa fa-truck"></i></span>'})})
                .bindTooltip(G.esc(c.name + " · " + (G.CREW_STATUS_NAMES[c.status] || c.status)))
                .addTo(layers.crews);
        });
    }

    function select(id) {
        selected = id;
        document.querySelectorAll("#incident-table tr").forEach(function (tr) {
            tr.classList.toggle("gc-selected", tr.getAttribute("data-id") === id);
        });
        G.api("/api/map/incidents/" + encodeURIComponent(id)).then(function (inc) {
            layers.detail.clearLayers();
            var colour = inc.colour || "#b30000";
            if (inc.area) {
                L.geoJSON(inc.area, {style: {color: colour, weight: 1.5, fillColor: colour, fillOpacity: 0.28}}).addTo(layers.detail);
            }
            if (inc.lines) { L.geoJSON(inc.lines, {style: {color: colour, weight: 6, opacity: 0.5}}).addTo(layers.detail); }
            if (inc.unit_location && inc.lon !== null) {
                L.polyline([[inc.unit_location[1], inc.unit_location[0]], [inc.lat, inc.lon]],
                    {color: "#08519c", weight: 2, dashArray: "6 6"}).bindTooltip(G.esc(inc.unit_name || "")).addTo(layers.detail);
            }
            (inc.calls || []).forEach(function (c) {
                if (c.lon === null || c.lat === null) { return; }
                L.circleMarker([c.lat, c.lon], {radius: 4, color: "#fff", weight: 1, fillColor: colour, fillOpacity: 1})
                    .bindTooltip(G.esc(c.call_id + " · " + (G.METHOD_NAMES[c.method] || c.method || ""))).addTo(layers.detail);
            });
            var b = layers.detail.getBounds();
            if (b.isValid()) { handle.map.fitBounds(b, {maxZoom: 15, padding: [40, 40]}); }
            document.getElementById("incident-detail").innerHTML =
                '<div class="card"><div class="card-body p-2 gc-small"><b>事件 ' + G.esc(inc.id) + "</b> " +
                G.esc(inc.device_id || "") + " " + G.esc(inc.device_kind_name || "") + " · " + G.esc(inc.feeder || "") +
                " · 停电 " + G.esc(inc.affected_customers) + " 户 · 工单 " + G.esc(inc.work_order_id || "—") +
                (inc.feeder ? ' · <a href="/schematic/' + encodeURIComponent(inc.feeder) + '">单线图</a>' : "") +
                "<ul class='gc-evidence'>" + (inc.evidence || []).slice(-10).map(function (e) {
                    return "<li>" + G.esc(e) + "</li>"; }).join("") + "</ul></div></div>";
        }).catch(function (e) { console.warn(e.message); });
    }

    function refresh() {
        return G.api("/api/map/board").then(function (b) {
            renderClocks(b.clocks || []);
            renderIncidents(b.incidents || []);
            renderOrders(b.orders || []);
            renderCrews(b.crews || []);
            drawBoard(b);
            var overdue = (b.clocks || []).filter(function (c) { return c.state === "overdue"; }).length;
            document.getElementById("board-summary").innerHTML =
                "<span class='badge bg-danger'>" + b.incidents.length + " 个事件</span> " +
                "<span class='badge bg-primary'>" + b.orders.length + " 张工单</span> " +
                "<span class='badge bg-success'>" + b.crews.filter(function (c) { return c.status === "available"; }).length +
                " 个班组待命</span> " + (overdue ? "<span class='badge bg-dark'>" + overdue + " 个时限已超</span>" : "");
            document.getElementById("board-updated").textContent = "更新于 " + G.fmtTime(b.now);
            document.body.setAttribute("data-board-loaded", "1");
        }).catch(function (e) {
            document.getElementById("board-summary").innerHTML = '<span class="text-danger">' + G.esc(e.message) + "</span>";
        });
    }

    document.getElementById("incident-table").addEventListener("click", function (e) {
        var tr = e.target.closest("tr[data-id]");
        if (tr) { select(tr.getAttribute("data-id")); }
    });
    document.getElementById("order-table").addEventListener("click", function (e) {
        var tr = e.target.closest("tr[data-incident]");
        if (tr && tr.getAttribute("data-incident")) { select(tr.getAttribute("data-incident")); }
    });

    G.whenMap(function (h) {
        handle = h;
        G.addNetwork(h, ["feeders", "substations", "switches", "transformers"], G.NETWORK_NAMES);
        layers = {
            detail: L.featureGroup().addTo(h.map),
            orders: L.featureGroup().addTo(h.map),
            crews: L.featureGroup().addTo(h.map),
            incidents: L.featureGroup().addTo(h.map)
        };
        h.control.addOverlay(layers.incidents, "故障事件");
        h.control.addOverlay(layers.detail, "选中事件的停电范围");
        h.control.addOverlay(layers.orders, "其他工单");
        h.control.addOverlay(layers.crews, "抢修班组");
    });
    refresh();
    setInterval(function () { if (!document.hidden) { refresh(); } }, REFRESH_MS);
})();
