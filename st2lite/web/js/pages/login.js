// Log in with a user and password (a token) or with an API key.
import { logIn, useApiKey } from "../api.js";
import { add, announce, errorBox, field, h } from "../dom.js";

export function render(main, _params, ctx) {
  const status = h("div", { class: "form-status" });
  const next = ctx.query.get("next");
  const done = (me) => {
    ctx.onLogin(me);
    announce(`Logged in as ${me.username}`);
    window.location.hash = next && next.startsWith("#/") && !next.startsWith("#/login") ? next : "#/";
  };
  const fail = (err) => status.replaceChildren(errorBox(err));

  const user = h("input", { type: "text", name: "username", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const byPassword = h(
    "form",
    {
      class: "card",
      "aria-labelledby": "login-password-title",
      onsubmit: async (e) => {
        e.preventDefault();
        status.replaceChildren(h("p", { class: "muted" }, "Logging in…"));
        try {
          done(await logIn(user.value.trim(), password.value));
        } catch (err) {
          password.value = "";
          fail(err.status === 401 ? new Error("Wrong user or password: check them and try again.") : err);
        }
      },
    },
    h("h2", { id: "login-password-title" }, "Log in with a user and password"),
    field("User", user, "login-user"),
    field("Password", password, "login-password"),
    h("button", { type: "submit", class: "primary" }, "Log in"),
  );

  const key = h("input", { type: "password", name: "api-key", autocomplete: "off", required: true, spellcheck: false });
  const byKey = h(
    "form",
    {
      class: "card",
      "aria-labelledby": "login-key-title",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          done(await useApiKey(key.value.trim()));
        } catch (err) {
          key.value = "";
          fail(err.status === 401 ? new Error("That API key is not valid (unknown, disabled or deleted).") : err);
        }
      },
    },
    h("h2", { id: "login-key-title" }, "Log in with an API key"),
    field("API key", key, "login-key", "An API key made with `st2lite apikey create` or `st2 apikey create`."),
    h("button", { type: "submit" }, "Use API key"),
  );

  add(
    main,
    h("div", { class: "page-header" }, h("h1", { id: "page-title", tabindex: "-1" }, "Log in to st2lite")),
    ctx.query.get("expired") ? h("p", { class: "notice" }, "Your session ended; log in again.") : null,
    status,
    h("div", { class: "login-forms" }, byPassword, byKey),
  );
}
