"""``GET /``: one self-contained page to try the service (no build step, no CDN, works offline)."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mfrec</title>
<style>
body{font:15px system-ui,sans-serif;max-width:760px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%}td,th{padding:4px 6px;border-bottom:1px solid #ddd;text-align:left}
#source{font-weight:bold}#error{color:#b00}button{cursor:pointer}input[type=text]{width:10em}
</style></head><body>
<h1>mfrec</h1>
<p id="model">loading model&hellip;</p>
<form id="pick"><label>User <input type="text" id="user" value="1" list="users"></label>
<button type="submit" id="show">Show top-10</button>
<button type="button" id="newuser">New user</button>
<label>token <input type="password" id="token" placeholder="(if required)"></label></form>
<p>Answered by: <span id="source">&ndash;</span> <span id="error"></span></p>
<table><thead><tr><th>#</th><th>item</th><th>score</th><th>rate</th></tr></thead><tbody id="recs"></tbody></table>
<script>
const $ = (id) => document.getElementById(id);
async function call(method, url, body) {
  const headers = {"Content-Type": "application/json"};
  if ($("token").value) headers["Authorization"] = "Bearer " + $("token").value;
  const r = await fetch(url, {method, headers, body: body ? JSON.stringify(body) : undefined});
  const data = await r.json();
  if (!r.ok) throw new Error((data.error && data.error.message) || r.status);
  return data;
}
async function show() {
  $("error").textContent = "";
  const user = encodeURIComponent($("user").value.trim());
  try {
    const data = await call("GET", "/users/" + user + "/recommendations?n=10");
    $("source").textContent = data.source + (data.source === "popularity" ? " (cold start: rate a few items)" : "");
    const rows = $("recs"); rows.innerHTML = ""; rows.dataset.user = data.user;
    for (const rec of data.items) {
      const tr = document.createElement("tr"); tr.className = "rec";
      const name = rec.title ? rec.title + " (" + rec.item + ")" : String(rec.item);
      tr.innerHTML = "<td>" + rec.rank + "</td><td class='name'></td><td>" + rec.score.toFixed(2) + "</td><td></td>";
      tr.querySelector(".name").textContent = name;
      for (const v of [1, 2, 3, 4, 5]) {
        const b = document.createElement("button"); b.textContent = v; b.className = "rate rate-" + v;
        b.onclick = () => rate(rec.item, v); tr.lastChild.appendChild(b);
      }
      rows.appendChild(tr);
    }
  } catch (e) { $("error").textContent = e.message; }
}
async function rate(item, value) {
  try {
    await call("POST", "/users/" + encodeURIComponent($("user").value.trim()) + "/ratings",
               {ratings: [{item, rating: value}], request_id: crypto.randomUUID ? crypto.randomUUID() : String(Math.random())});
    await show();
  } catch (e) { $("error").textContent = e.message; }
}
$("pick").onsubmit = (e) => { e.preventDefault(); show(); };
$("newuser").onclick = () => { $("user").value = "guest-" + Math.random().toString(36).slice(2, 8); show(); };
call("GET", "/model").then((m) => {
  $("model").textContent = m.model + " \u00b7 " + m.data.n_users + " users, " + m.data.n_items + " items \u00b7 trained " + m.trained_at;
}).catch((e) => { $("error").textContent = e.message; });
show();
</script></body></html>
"""
