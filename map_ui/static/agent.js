/* The call-taking console: the CONTRACT section 2 fields to POST /api/calls with the
 * bearer token and an Idempotency-Key (a retried submit is the same call), then the
 * answer: status, incident, located position with method and confidence, evidence, a
 * known outage or planned notice, and a possible customer-side fault. */
(function () {
    "use strict";
    var G = Gridcall, handle = null, drawn = null, picking = false;
    var form = document.getElementById("call-form");
    var answerBox = document.getElementById("answer");
    var FIELDS = ["call_id", "received_at", "source", "category", "caller_phone", "caller_name",
        "account_no", "pole_no", "address", "lon", "lat", "coord_sys", "symptom", "description"];
    var key = null;

    function uuid() {
        if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
        return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
    }

    function stamp() {
        var d = new Date(), pad = function (n) { return (n < 10 ? "0" : "") + n; };
        return "W" + d.getFullYear() + pad(d.getMonth() + 1) + pad(d.getDate()) + pad(d.getHours()) +
            pad(d.getMinutes()) + pad(d.getSeconds()) + Math.floor(Math.random() * 1000);
    }

    function fresh() {
        form.reset();
        key = uuid();  // one key per call: resubmitting after a timeout cannot make two
        document.getElementById("f-call_id").value = stamp();
        document.getElementById("f-received_at").value = new Date().toISOString();
        answerBox.innerHTML = "";
        if (drawn) { drawn.clearLayers(); }
    }

    function payload() {
        var out = {};
        FIELDS.forEach(function (name) {
            var el = document.getElementById("f-" + name);
            var v = el ? el.value.trim() : "";
            if (v !== "") { out[name] = v; }
        });
        if (out.lon !== undefined && out.lat !== undefined) {
            out.lon = Number(out.lon); out.lat = Number(out.lat);
        } else { delete out.lon; delete out.lat; delete out.coord_sys; }
        return out;
    }

    function warnings(a) {
        var out = [], reason = a.reason || "";
        if (a.status === "known_outage") {
            var planned = /planned outage notice|notice\s+\S+/i.test(reason);
            out.push('<div class="alert alert-info py-1 mb-1" id="known-outage"><i class="fa fa-circle-info"></i> ' +
                (planned ? "<b>计划/临时停电公告范围内</b>：按咨询答复，告知停电时间，无需派单。"
                         : "<b>已知停电</b>：该户在已有故障事件的停电范围内，已合并，无需新派工单。") + "</div>");
        }
        if (a.status === "merged") {
            out.push('<div class="alert alert-warning py-1 mb-1"><i class="fa fa-link"></i> <b>重复报修</b>：已并入事件 ' +
                G.esc(a.incident_id) + "，不新建工单（第二十四条）。</div>");
        }
        if (/customer's own wiring|article 22|customer.side/i.test(reason) || a.customer_side_suspect) {
            out.push('<div class="alert alert-danger py-1 mb-1" id="customer-side"><i class="fa fa-house-circle-exclamation"></i> ' +
                "<b>可能为客户内部故障</b>：周边用户暂无报修。请先确认是否为户内线路问题，属客户产权的需告知为有偿服务（第二十二条）。</div>");
        }
        return out.join("");
    }

    function show(a) {
        var loc = a.location || {};
        var conf = loc.confidence !== undefined && loc.confidence !== null ? Number(loc.confidence) : null;
        var html = '<div class="d-flex align-items-center gap-2 mb-1">' +
            '<span class="badge bg-' + (G.STATUS_CLASSES[a.status] || "secondary") + ' fs-6" id="answer-status" data-status="' +
            G.esc(a.status) + '">' + G.esc(G.STATUS_NAMES[a.status] || a.status) + "</span>" +
            '<span class="small text-muted">' + G.esc(a.call_id) + "</span></div>" + warnings(a) +
            '<table class="gc-popup mb-1">' +
            "<tr><th>事件</th><td id='answer-incident'>" + G.esc(a.incident_id || "—") + "</td></tr>" +
            "<tr><th>工单</th><td>" + G.esc(a.work_order_id || "—") + "</td></tr>" +
            "<tr><th>推断故障设备</th><td>" + G.esc(a.predicted_device_id || "—") + "</td></tr>" +
            "<tr><th>责任单位</th><td>" + G.esc(a.unit_id || "—") + "</td></tr>" +
            "<tr><th>定位</th><td id='answer-method'>" + G.esc(G.METHOD_NAMES[loc.method] || loc.method || "未定位") +
            (conf !== null ? "，置信度 " + conf.toFixed(2) : "") + "</td></tr>" +
            (loc.transformer_id ? "<tr><th>台区</th><td>" + G.esc(loc.transformer_id) + "</td></tr>" : "") +
            "<tr><th>说明</th><td>" + G.esc(a.reason) + "</td></tr></table>" +
            '<div id="answer-evidence"></div>';
        answerBox.innerHTML = html;
        draw(a);
        details(a);
    }

    function details(a) {
        var parts = [];
        var jobs = [];
        if (a.call_id) {
            jobs.push(G.api("/api/map/calls/" + encodeURIComponent(a.call_id)).then(function (c) {
                var loc = c.location || {};
                if ((loc.evidence || []).length) {
                    parts[0] = "<b>定位依据</b><ul class='gc-evidence'>" + loc.evidence.map(function (e) {
                        return "<li>" + G.esc(e) + "</li>"; }).join("") + "</ul>";
                }
            }).catch(function () {}));
        }
        if (a.incident_id) {
            jobs.push(G.api("/api/map/incidents/" + encodeURIComponent(a.incident_id)).then(function (inc) {
                drawIncident(inc);
                var ev = (inc.evidence || []).slice(-8);
                parts[1] = "<b>事件 " + G.esc(inc.id) + " 依据</b>（" + G.esc(inc.call_count) + " 个电话，停电 " +
                    G.esc(inc.affected_customers === null ? "?" : inc.affected_customers) + " 户）<ul class='gc-evidence'>" +
                    ev.map(function (e) { return "<li>" + G.esc(e) + "</li>"; }).join("") + "</ul>";
            }).catch(function () {}));
        }
        Promise.all(jobs).then(function () {
            var box = document.getElementById("answer-evidence");
            if (box) { box.innerHTML = parts.filter(Boolean).join(""); }
        });
    }

    function draw(a) {
        if (!handle) { return; }
        drawn.clearLayers();
        var loc = a.location || {};
        if (loc.lon === null || loc.lon === undefined || loc.lat === null || loc.lat === undefined) { return; }
        var conf = Number(loc.confidence || 0);
        var radius = 40 + (1 - Math.min(Math.max(conf, 0), 1)) * 1500;
        var ll = L.latLng(loc.lat, loc.lon);
        L.circle(ll, {radius: radius, color: "#1f78b4", weight: 1, fillOpacity: 0.12}).addTo(drawn);
        L.marker(ll, {title: "来电位置"}).bindPopup("<b>" + G.esc(a.call_id) + "</b><br>" +
            G.esc(G.METHOD_NAMES[loc.method] || loc.method) + "，置信度 " + conf.toFixed(2)).addTo(drawn);
        handle.map.setView(ll, Math.max(handle.map.getZoom(), 14));
    }

    function drawIncident(inc) {
        if (!handle) { return; }
        var colour = inc.colour || "#b30000";
        if (inc.area) {
            L.geoJSON(inc.area, {style: {color: colour, weight: 1.5, fillColor: colour, fillOpacity: 0.25}})
                .bindTooltip("停电范围：" + G.esc(inc.affected_customers) + " 户").addTo(drawn);
        }
        if (inc.lines) { L.geoJSON(inc.lines, {style: {color: colour, weight: 6, opacity: 0.5}}).addTo(drawn); }
        if (inc.lon !== null && inc.lat !== null) {
            L.marker([inc.lat, inc.lon], {icon: G.deviceIcon(inc.device_kind, colour)})
                .bindTooltip(G.esc(inc.id + " · " + (inc.device_id || "") + " " + (inc.device_kind_name || "")))
                .addTo(drawn);
        }
        (inc.calls || []).forEach(function (c) {
            if (c.lon === null || c.lat === null) { return; }
            L.circleMarker([c.lat, c.lon], {radius: 4, color: "#fff", weight: 1, fillColor: colour, fillOpacity: 1})
                .bindTooltip(G.esc(c.call_id)).addTo(drawn);
        });
        var b = drawn.getBounds();
        if (b.isValid()) { handle.map.fitBounds(b, {maxZoom: 15, padding: [40, 40]}); }
    }

    form.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = document.getElementById("call-submit");
        button.disabled = true;
        answerBox.innerHTML = '<span class="text-muted">受理中…</span>';
        G.api("/api/calls", {method: "POST", json: payload(), headers: {"Idempotency-Key": key}})
            .then(show)
            .catch(function (e) {
                answerBox.innerHTML = '<div class="alert alert-danger py-1" id="answer-error">提交失败：' +
                    G.esc(e.message) + "</div>";
            })
            .finally(function () { button.disabled = false; });
    });
    document.getElementById("call-new").addEventListener("click", fresh);
    document.getElementById("pick-on-map").addEventListener("change", function (e) { picking = e.target.checked; });

    G.whenMap(function (h) {
        handle = h;
        drawn = L.featureGroup().addTo(h.map);
        h.control.addOverlay(drawn, "本次来电");
        G.addNetwork(h, ["feeders", "substations", "switches", "transformers"], G.NETWORK_NAMES);
        h.map.on("click", function (e) {
            if (!picking) { return; }
            document.getElementById("f-lon").value = e.latlng.lng.toFixed(6);
            document.getElementById("f-lat").value = e.latlng.lat.toFixed(6);
            document.getElementById("f-coord_sys").value = "WGS84";
        });
    });
    fresh();
})();
