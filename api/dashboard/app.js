// The sluice dashboard: polls sluiced's JSON API (GET /api/v1/stats,
// /sites, /failures, /queues) and draws it. The API key, when the operator
// gives one, lives in this tab's sessionStorage and travels only in the
// Authorization header, never in a URL.
"use strict";

const PAGE = 25;
const state = {
  token: sessionStorage.getItem("sluice-token") || "",
  history: [],          // points of GET /api/v1/stats
  since: 0,             // the newest point's unix_ms
  interval: 5,
  sort: "ready",
  order: "desc",
  offset: 0,
  filter: "",
  suspended: "",
  total: 0,
};

const $ = (id) => document.getElementById(id);

function notice(text, kind) {
  const box = $("notice");
  box.textContent = text;
  box.className = kind || "";
  box.hidden = !text;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path) {
  const headers = {};
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  const response = await fetch(path, { method, headers, cache: "no-store" });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : text.trim() || response.statusText;
    throw new ApiError(response.status, message);
  }
  return body;
}

// What a refusal means to the person looking at the page.
function explain(error) {
  if (!(error instanceof ApiError)) return "sluiced cannot be reached: " + error.message;
  if (error.status === 401) return "This sluiced needs an API key: a key with the read scope to view, admin to act.";
  if (error.status === 403) return "Refused: " + error.message + " (this key lacks the scope; acting needs admin).";
  if (error.status === 429) return "Too many requests with this key: " + error.message;
  return error.status + ": " + error.message;
}

function fmt(n, digits) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits || 0, minimumFractionDigits: digits || 0 });
}

function setNumber(id, value, digits) {
  const el = $(id);
  el.textContent = fmt(value, digits);
  el.dataset.value = String(value);
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

// Overview and charts.

async function refreshStats() {
  const stats = await api("GET", "/api/v1/stats" + (state.since ? "?since=" + state.since : ""));
  state.interval = stats.interval_seconds;
  for (const point of stats.history) state.history.push(point);
  const horizon = stats.now_unix_ms - 3600 * 1000;
  state.history = state.history.filter((p) => p.unix_ms >= horizon);
  if (state.history.length) state.since = state.history[state.history.length - 1].unix_ms;
  setNumber("stat-accepted-rate", stats.rates.accepted, 1);
  setNumber("stat-delivered-rate", stats.rates.delivered, 1);
  setNumber("stat-deferred-rate", stats.rates.deferred, 1);
  setNumber("stat-bounced-rate", stats.rates.bounced, 1);
  setNumber("total-accepted", stats.totals.accepted);
  setNumber("total-delivered", stats.totals.delivered);
  setNumber("total-deferred", stats.totals.deferred);
  setNumber("total-bounced", stats.totals.bounced);
  setNumber("stat-queue", stats.gauges.queue_scheduled + stats.gauges.queue_ready);
  setNumber("stat-queue-ready", stats.gauges.queue_ready);
  setNumber("stat-queue-scheduled", stats.gauges.queue_scheduled);
  setNumber("stat-connections-out", stats.gauges.connections_outbound);
  setNumber("stat-connections-in", stats.gauges.connections_inbound);
  setNumber("stat-spool-p99", stats.latency.spool_commit_p99_ms, 2);
  setNumber("stat-loop-p99", stats.latency.loop_lag_p99_ms, 2);
  drawChart($("chart-rates"), state.history, stats.now_unix_ms,
            [["accepted", "--accepted"], ["delivered", "--delivered"], ["deferred", "--deferred"], ["bounced", "--bounced"]]);
  drawChart($("chart-queue"), state.history, stats.now_unix_ms,
            [["queue", "--queue"], ["connections_outbound", "--connections"]]);
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function drawChart(canvas, points, now, series) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const left = 48, right = 8, top = 8, bottom = 20;
  const w = width - left - right, h = height - top - bottom;
  const start = now - 3600 * 1000;
  let max = 0;
  for (const p of points) for (const [key] of series) max = Math.max(max, p[key]);
  max = niceMax(max);
  const css = getComputedStyle(document.documentElement);
  g.strokeStyle = "#dde1e8";
  g.fillStyle = "#6b7385";
  g.font = "11px system-ui, sans-serif";
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + h - (h * i) / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(left + w, y); g.stroke();
    g.fillText(fmt((max * i) / 4, max < 4 ? 1 : 0), 4, y + 4);
  }
  for (let m = 0; m <= 60; m += 15) {
    const x = left + (w * m) / 60;
    g.fillText(m === 60 ? "now" : "-" + (60 - m) + "m", x - 12, height - 4);
  }
  for (const [key, color] of series) {
    g.strokeStyle = css.getPropertyValue(color).trim() || "#333";
    g.lineWidth = 2;
    g.beginPath();
    let started = false;
    for (const p of points) {
      const x = left + (w * (p.unix_ms - start)) / (3600 * 1000);
      const y = top + h - (h * p[key]) / max;
      if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
    }
    g.stroke();
  }
  if (!points.length) {
    g.fillStyle = "#6b7385";
    g.fillText("no points yet: one every " + state.interval + " s", left + 10, top + 20);
  }
}

// Sites.

function sitesPath() {
  const q = new URLSearchParams({ sort: state.sort, order: state.order, limit: PAGE, offset: state.offset });
  if (state.filter) q.set("q", state.filter);
  if (state.suspended) q.set("suspended", state.suspended);
  return "/api/v1/sites?" + q.toString();
}

async function refreshSites() {
  const page = await api("GET", sitesPath());
  state.total = page.total;
  const body = $("sites").tBodies[0];
  const rows = [];
  for (const q of page.queues) {
    const row = document.createElement("tr");
    row.dataset.site = q.site;
    row.dataset.pool = q.pool;
    if (q.suspended) row.className = "suspended";
    cell(row, q.site).dataset.col = "site";
    cell(row, q.pool).dataset.col = "pool";
    for (const key of ["ready", "in_flight", "connections", "window"]) {
      const td = cell(row, fmt(q[key]), "num");
      td.dataset.col = key;
      td.dataset.value = String(q[key]);
    }
    const dpm = cell(row, fmt(q.delivered_per_minute, 1), "num");
    dpm.dataset.col = "delivered_per_minute";
    dpm.dataset.value = String(q.delivered_per_minute);
    cell(row, q.last_error, "error").dataset.col = "last_error";
    cell(row, q.suspended ? "suspended" : "active").dataset.col = "state";
    const action = document.createElement("button");
    action.type = "button";
    action.className = q.suspended ? "resume" : "suspend";
    action.textContent = q.suspended ? "Resume" : "Suspend";
    action.addEventListener("click", () => setSuspended(q.site, !q.suspended, action));
    const td = document.createElement("td");
    td.appendChild(action);
    row.appendChild(td);
    rows.push(row);
  }
  body.replaceChildren(...rows);
  const last = Math.min(page.offset + page.queues.length, page.total);
  $("sites-total").textContent = fmt(page.total) + (page.total === 1 ? " site" : " sites");
  $("sites-total").dataset.value = String(page.total);
  $("sites-page").textContent = page.total ? (page.offset + 1) + "–" + last + " of " + fmt(page.total) : "none";
  $("sites-prev").disabled = page.offset === 0;
  $("sites-next").disabled = last >= page.total;
  for (const th of document.querySelectorAll("#sites th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === state.sort);
    th.classList.toggle("asc", state.order === "asc");
  }
}

async function setSuspended(site, suspended, button) {
  button.disabled = true;
  try {
    await api("POST", "/api/v1/" + (suspended ? "suspend" : "resume") + "?site=" + encodeURIComponent(site));
    notice((suspended ? "Suspended " : "Resumed ") + site + ".", "info");
    await refreshSites();
  } catch (error) {
    notice(explain(error));
    button.disabled = false;
  }
}

// Failures, tenants and campaigns.

async function refreshFailures() {
  const answer = await api("GET", "/api/v1/failures?limit=50");
  const groups = answer.groups.slice().sort((a, b) => a.site.localeCompare(b.site) || b.count - a.count);
  const rows = groups.map((g) => {
    const row = document.createElement("tr");
    row.dataset.site = g.site;
    cell(row, g.site);
    cell(row, g.type);
    cell(row, g.category);
    cell(row, g.status);
    const count = cell(row, fmt(g.count), "num");
    count.dataset.value = String(g.count);
    cell(row, new Date(g.last_unix_ms).toLocaleTimeString());
    cell(row, g.reply, "reply");
    return row;
  });
  $("failures").tBodies[0].replaceChildren(...rows);
}

async function refreshGroups(groupBy, tableId) {
  const answer = await api("GET", "/api/v1/queues?group_by=" + groupBy);
  const rows = answer.groups.slice(0, 50).map((g) => {
    const row = document.createElement("tr");
    row.dataset.key = g.key;
    cell(row, g.key || "(none)");
    cell(row, fmt(g.envelopes), "num").dataset.value = String(g.envelopes);
    cell(row, fmt(g.recipients), "num").dataset.value = String(g.recipients);
    return row;
  });
  $(tableId).tBodies[0].replaceChildren(...rows);
  // Every envelope in the spool, deferred ones far in the future included.
  setNumber("stat-spooled", answer.total.envelopes);
}

// Message lookup.

async function lookup(id) {
  const out = $("lookup-result");
  out.replaceChildren();
  try {
    const m = await api("GET", "/api/v1/messages/" + encodeURIComponent(id.trim()));
    const dl = document.createElement("dl");
    for (const key of ["id", "sender", "domain", "site", "tenant", "campaign", "pool", "queue", "attempts", "size", "last_reply"]) {
      const dt = document.createElement("dt");
      dt.textContent = key;
      const dd = document.createElement("dd");
      dd.textContent = String(m[key]);
      dd.dataset.field = key;
      dl.append(dt, dd);
    }
    for (const [key, label] of [["created_unix_ms", "created"], ["next_due_unix_ms", "next due"]]) {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = m[key] ? new Date(m[key]).toISOString() : "–";
      dl.append(dt, dd);
    }
    const table = document.createElement("table");
    table.innerHTML = "<thead><tr><th>Recipient</th><th>State</th><th>Attempts</th><th>Last reply</th></tr></thead><tbody></tbody>";
    for (const r of m.recipients) {
      const row = document.createElement("tr");
      row.dataset.address = r.address;
      cell(row, r.address);
      cell(row, r.state).dataset.field = "state";
      cell(row, String(r.attempts), "num");
      cell(row, r.last_reply, "reply");
      table.tBodies[0].appendChild(row);
    }
    out.append(dl, table);
  } catch (error) {
    const p = document.createElement("p");
    p.id = "lookup-error";
    p.textContent = error instanceof ApiError && error.status === 404 ? "No message " + id + " in the spool." : explain(error);
    out.appendChild(p);
  }
}

// The loop.

let ticks = 0;
async function tick() {
  const jobs = [refreshStats(), refreshSites()];
  if (ticks % 3 === 0) jobs.push(refreshFailures());
  if (ticks % 8 === 0) jobs.push(refreshGroups("tenant", "tenants"), refreshGroups("campaign", "campaigns"));
  ticks++;
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    notice(explain(failed.reason));
    $("health").textContent = failed.reason instanceof ApiError ? "key needed" : "unreachable";
    $("health").className = "pill bad";
  } else {
    if ($("notice").className !== "info") notice("");
    $("health").textContent = "live";
    $("health").className = "pill ok";
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("updated").dataset.ticks = String(ticks);
  }
  authState();
}

function authState() {
  $("auth-state").textContent = state.token ? "using a key" : "no key";
  $("signout").hidden = !state.token;
}

function start() {
  $("auth").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token").value.trim();
    $("token").value = "";
    sessionStorage.setItem("sluice-token", state.token);
    notice("");
    tick();
  });
  $("signout").addEventListener("click", () => {
    state.token = "";
    sessionStorage.removeItem("sluice-token");
    tick();
  });
  let typing = null;
  $("site-filter").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.filter = $("site-filter").value.trim(); state.offset = 0; refreshSites().catch((e) => notice(explain(e))); }, 250);
  });
  $("site-suspended").addEventListener("change", () => {
    state.suspended = $("site-suspended").value;
    state.offset = 0;
    refreshSites().catch((e) => notice(explain(e)));
  });
  $("sites-prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); refreshSites().catch((e) => notice(explain(e))); });
  $("sites-next").addEventListener("click", () => { state.offset += PAGE; refreshSites().catch((e) => notice(explain(e))); });
  for (const th of document.querySelectorAll("#sites th[data-sort]")) {
    th.addEventListener("click", () => {
      const sort = th.dataset.sort;
      state.order = state.sort === sort ? (state.order === "desc" ? "asc" : "desc") : (sort === "site" ? "asc" : "desc");
      state.sort = sort;
      state.offset = 0;
      refreshSites().catch((e) => notice(explain(e)));
    });
  }
  $("lookup").addEventListener("submit", (event) => { event.preventDefault(); lookup($("lookup-id").value); });
  tick();
  setInterval(tick, 2000);
}

document.addEventListener("DOMContentLoaded", start);
