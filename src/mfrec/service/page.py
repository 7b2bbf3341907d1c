"""``GET /``: one self-contained page to try the service (no build step, no CDN, works offline).

The rating buttons follow the served model's scale (:func:`rating_choices`): 1..10 for a 1-10
model, halves for 0.5-5, one "interacted" button for a click log.
"""

from __future__ import annotations

import json

#: A scale with more steps than this (interaction counts, 0..100 scores) gets one "interacted" button.
MAX_BUTTONS = 11


def rating_choices(scale: tuple[float, float]) -> list[dict[str, object]]:
    """The rating buttons for a model on ``scale``: label and value posted, every value inside the scale.

    >>> [c["value"] for c in rating_choices((1.0, 5.0))]
    [1, 2, 3, 4, 5]
    >>> rating_choices((0.0, 1.0))
    [{'label': 'interacted', 'value': 1}]
    """
    low, high = float(scale[0]), float(scale[1])
    step = 0.5 if low % 1 == 0.5 else 1.0
    values = [low + step * i for i in range(int(round((high - low) / step)) + 1)]
    if (low, high) == (0.0, 1.0) or len(values) > MAX_BUTTONS:
        one = 1.0 if low <= 1.0 <= high else high  # one more interaction
        return [{"label": "interacted", "value": int(one) if one.is_integer() else one}]
    return [{"label": f"{v:g}", "value": int(v) if v.is_integer() else v} for v in values]


def page(scale: tuple[float, float]) -> str:
    """The page for a model on ``scale``."""
    return PAGE.replace("__RATINGS__", json.dumps(rating_choices(scale)))


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
const RATINGS = __RATINGS__;
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
      for (const c of RATINGS) {
        const b = document.createElement("button"); b.textContent = c.label; b.className = "rate rate-" + c.label;
        b.onclick = () => rate(rec.item, c.value); tr.lastChild.appendChild(b);
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
