// Shortify dashboard: calls to this origin's APIs with the tab's key (and
// an instance admin's picked workspace), problem documents as Errors.

// KEY is the sessionStorage entry of the tab's API key.
export const KEY = "shortify-api-key";
// WORKSPACE is the workspace an instance admin picked (its ID), sent as
// the Shortify-Workspace header; none: every workspace.
export const WORKSPACE = "shortify-workspace";

// key is the tab's API key, "" for none.
export const key = () => sessionStorage.getItem(KEY) || "";
// picked is the workspace an instance admin picked, "" for none.
export const picked = () => sessionStorage.getItem(WORKSPACE) || "";

// api calls path with the key and returns the decoded JSON; a problem
// document becomes an Error with its detail.
export async function api(path, options) {
  const opts = options || {};
  const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
  // A bearer token: the form Caddy's logs redact, and the documented one.
  if (key()) headers["Authorization"] = "Bearer " + key();
  if (key() && picked()) headers["Shortify-Workspace"] = picked();
  const asked = key() + "\n" + picked();
  const resp = await fetch(path, Object.assign({}, opts, { headers, credentials: "omit" }));
  // An answer for a key that was forgotten or changed meanwhile (or
  // another workspace) never settles: what it held must not come back
  // on screen after "Forget" cleared it.
  if (key() + "\n" + picked() !== asked) return new Promise(() => {});
  if (!resp.ok) {
    let detail = resp.status + " " + resp.statusText, field = "";
    try {
      const p = await resp.json();
      if (p && p.detail) detail = p.detail;
      if (p && typeof p.field === "string") field = p.field;
    } catch (_) { /* not JSON */ }
    const err = new Error(detail);
    err.status = resp.status;
    err.field = field;
    throw err;
  }
  return opts.raw ? resp : resp.json();
}

// explain is what a page says of a refused call: a 401 (no key, or one
// not known) asks for a key that may see what (default "statistics").
export function explain(err, what) {
  if (err.status === 401) return "Enter an API key (role viewer or above) to see " + (what || "statistics") + ": " + err.message;
  return err.message;
}

// domainQuery is "&domain=..." for a link page opened with ?domain=
// (a link on a custom domain), else "".
export function domainQuery() {
  const d = new URLSearchParams(location.search).get("domain");
  return d ? "&domain=" + encodeURIComponent(d) : "";
}
