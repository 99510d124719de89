/* gridcall pages: the login token, API calls, and drawing our GeoJSON on Leaflet.
 * The token lives in sessionStorage: it ends with the tab, and it is sent as a bearer
 * header, never as a cookie a cross-site form could ride on. */
(function () {
    "use strict";
    var KEY = "gridcall.token", USER = "gridcall.user", ROLE = "gridcall.role";

    var STATUS_NAMES = {
        "new": "新建工单", "merged": "已合并（重复来电）", "known_outage": "已知停电",
        "consult": "咨询答复", "ticket": "已派发工单", "rejected": "无效来电"
    };
    var STATUS_CLASSES = {
        "new": "danger", "merged": "warning", "known_outage": "info", "consult": "secondary",
        "ticket": "primary", "rejected": "dark"
    };
    var METHOD_NAMES = {
        "account": "户号", "pole": "杆号", "gps": "手机定位", "address": "地址",
        "admin": "行政区", "none": "未定位"
    };
    var CLOCK_NAMES = {
        "dispatch": "派单", "arrival": "到达现场", "restoration": "恢复送电",
        "reply": "答复", "callback": "回访"
    };
    var ORDER_STATUS_NAMES = {
        "new": "待派", "dispatched": "已派工", "accepted": "已接单", "en_route": "在途",
        "on_site": "到达现场", "cause_found": "查明原因", "repaired": "已修复",
        "forwarded": "已转派", "answered": "已答复", "closed": "已关闭"
    };
    var CREW_STATUS_NAMES = {
        "available": "待命", "dispatched": "已派工", "en_route": "在途", "on_site": "现场",
        "off_duty": "不在岗"
    };

    function esc(value) {
        return String(value === null || value === undefined ? "" : value)
            .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
            .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
    }

    function token() { return sessionStorage.getItem(KEY); }

    function login(accessToken, user, role) {
        sessionStorage.setItem(KEY, accessToken);
        sessionStorage.setItem(USER, user || "");
        sessionStorage.setItem(ROLE, role || "");
    }

    function logout() {
        sessionStorage.removeItem(KEY);
        sessionStorage.removeItem(USER);
        sessionStorage.removeItem(ROLE);
    }

    function toLogin() {
        var next = location.pathname + location.search;
        location.replace("/login?next=" + encodeURIComponent(next));
    }

    /* Called in <head> of staff pages: no token, no page. */
    function requireLogin() { if (!token()) { toLogin(); } }

    function showUser() {
        var el = document.getElementById("gc-user"), out = document.getElementById("gc-logout");
        if (!el || !token()) { return; }
        el.textContent = (sessionStorage.getItem(USER) || "") + "（" +
            (sessionStorage.getItem(ROLE) || "") + "）";
        if (out) {
            out.classList.remove("d-none");
            out.addEventListener("click", function () { logout(); });
        }
    }

    function ApiError(status, detail) {
        this.status = status;
        this.message = detail;
    }
    ApiError.prototype = Object.create(Error.prototype);

    /* fetch with the bearer token; JSON in, JSON out; 401 sends the user to log in. */
    function api(path, options) {
        options = options || {};
        var headers = Object.assign({"Accept": "application/json"}, options.headers || {});
        var t = token();
        if (t) { headers.Authorization = "Bearer " + t; }
        var init = {method: options.method || "GET", headers: headers};
        if (options.json !== undefined) {
            headers["Content-Type"] = "application/json";
            init.body = JSON.stringify(options.json);
        } else if (options.body !== undefined) {
            init.body = options.body;
        }
        return fetch(path, init).then(function (response) {
            if (response.status === 401 && options.auth !== false) {
                logout();
                toLogin();
            }
            return response.text().then(function (text) {
                var data = null;
                try { data = text ? JSON.parse(text) : null; } catch (e) { data = {detail: text}; }
                if (!response.ok) {
                    var detail = data && data.detail;
                    if (Array.isArray(detail)) {
                        detail = detail.map(function (d) { return d.msg || JSON.stringify(d); })
                            .join("; ");
                    }
                    throw new ApiError(response.status, detail || response.statusText);
                }
                return data;
            });
        });
    }

    function fmtTime(iso) {
        if (!iso) { return ""; }
        var d = new Date(iso);
        if (isNaN(d.getTime())) { return iso; }
        var pad = function (n) { return (n < 10 ? "0" : "") + n; };
        return (d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" +
            pad(d.getMinutes());
    }

    function fmtRemaining(seconds) {
        var s = Math.abs(seconds), sign = seconds < 0 ? "超时 " : "剩 ";
        var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
        return sign + (h ? h + "小时" : "") + m + "分";
    }

    /* Our GeoJSON (each feature's properties.style and label) as a Leaflet layer. */
    function geoLayer(fc, options) {
        options = options || {};
        return L.geoJSON(fc, {
            style: function (f) { return (f.properties && f.properties.style) || options.style || {}; },
            pointToLayer: function (f, latlng) {
                var s = (f.properties && f.properties.style) || {};
                return L.circleMarker(latlng, Object.assign({radius: 4}, s));
            },
            onEachFeature: function (f, layer) {
                if (f.properties && f.properties.label) {
                    layer.bindTooltip(esc(f.properties.label), {sticky: true});
                }
                if (options.onEachFeature) { options.onEachFeature(f, layer); }
            }
        });
    }

    /* The folium base map of the page, once its script has run. */
    function whenMap(callback) {
        if (window.gridcallMap) { callback(window.gridcallMap); return; }
        document.addEventListener("gridcall:map", function (e) { callback(e.detail); });
    }

    /* Adds the staff network layers (feeders, substations...) to the base map. */
    function addNetwork(handle, groups, names) {
        groups.forEach(function (group) {
            api("/api/map/layers/" + group).then(function (fc) {
                var layer = geoLayer(fc);
                if (group !== "switches" && group !== "transformers") { layer.addTo(handle.map); }
                handle.control.addOverlay(layer, names[group] || group);
            }).catch(function (e) { console.warn("layer " + group + ": " + e.message); });
        });
    }

    function deviceIcon(kind, colour) {
        var icons = {
            "breaker": "power-off", "recloser": "rotate", "sectionalizer": "scissors",
            "fuse": "fire", "load_break_switch": "toggle-off", "disconnector": "toggle-off",
            "transformer": "plug"
        };
        return L.divIcon({
            className: "gc-label-icon",
            html: '<span class="gc-sw gc-sw-icon" style="width:26px;height:26px;font-size:13px;' +
                'box-shadow:0 0 3px #000;background:' + esc(colour || "#b30000") + '"><i class="fa fa-' +
                (icons[kind] || "question") + '"></i></span>',
            iconSize: [26, 26], iconAnchor: [13, 13]
        });
    }

    window.Gridcall = {
        esc: esc, token: token, login: login, logout: logout, requireLogin: requireLogin,
        showUser: showUser, api: api, fmtTime: fmtTime, fmtRemaining: fmtRemaining,
        geoLayer: geoLayer, whenMap: whenMap, addNetwork: addNetwork, deviceIcon: deviceIcon,
        STATUS_NAMES: STATUS_NAMES, STATUS_CLASSES: STATUS_CLASSES, METHOD_NAMES: METHOD_NAMES,
        CLOCK_NAMES: CLOCK_NAMES, ORDER_STATUS_NAMES: ORDER_STATUS_NAMES,
        CREW_STATUS_NAMES: CREW_STATUS_NAMES,
        NETWORK_NAMES: {
            "feeders": "10kV线路（按线路着色）", "substations": "变电站",
            "switches": "开关设备", "transformers": "配电变压器（台区）"
        }
    };
})();
