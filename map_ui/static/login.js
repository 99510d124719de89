/* The login form: OAuth2 password form to /api/auth/token, the token kept in this tab. */
(function () {
    "use strict";
    var form = document.getElementById("login-form");
    var error = document.getElementById("login-error");
    function target(role) {
        var next = new URLSearchParams(location.search).get("next");
        if (next && next.charAt(0) === "/" && next.charAt(1) !== "/") { return next; }
        return role === "agent" ? "/agent" : "/dispatch";
    }
    form.addEventListener("submit", function (event) {
        event.preventDefault();
        error.classList.add("d-none");
        var body = new URLSearchParams();
        body.set("grant_type", "password");
        body.set("username", document.getElementById("username").value.trim());
        body.set("password", document.getElementById("password").value);
        Gridcall.api("/api/auth/token", {
            method: "POST", body: body, auth: false,
            headers: {"Content-Type": "application/x-www-form-urlencoded"}
        }).then(function (answer) {
            Gridcall.login(answer.access_token, body.get("username"), answer.role || "");
            location.assign(target(answer.role));
        }).catch(function (e) {
            error.textContent = e.status === 401 ? "用户名或密码错误" : ("登录失败：" + e.message);
            error.classList.remove("d-none");
        });
    });
})();
