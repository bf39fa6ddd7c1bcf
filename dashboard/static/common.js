// Shared by every page: API calls (with the token), DOM building, formatting, polling.
"use strict";

const supernas = (() => {
  const TOKEN_KEY = "supernas.token";
  const ACTIVE = new Set(["queued", "running"]);

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function token() {
    return localStorage.getItem(TOKEN_KEY) || "";
  }

  // The token field (shown when the server needs one) keeps its value in localStorage.
  const tokenInput = document.getElementById("token");
  if (tokenInput) {
    tokenInput.value = token();
    tokenInput.addEventListener("input", () => localStorage.setItem(TOKEN_KEY, tokenInput.value.trim()));
  }

  async function errorMessage(response) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = Array.isArray(body.detail)
        ? body.detail.map((d) => `${d.loc.join(".")}: ${d.msg}`).join("; ")
        : String(body.detail);
    } catch (_) { /* not JSON: keep the status text */ }
    if (response.status === 401) detail += " (enter the server's token at the top right)";
    return detail;
  }

  // fetch() that sends the token and turns an error answer into an ApiError with the server's message.
  async function api(path, options = {}) {
    const headers = new Headers(options.headers || {});
    if (token()) headers.set("Authorization", `Bearer ${token()}`);
    const response = await fetch(path, { ...options, headers });
    if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
    return response;
  }

  async function json(path, options) {
    return (await api(path, options)).json();
  }

  // el("td", {class: "num"}, "3") -> <td class="num">3</td>; children are nodes or text (never HTML).
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "–";
    if (!Number.isFinite(value)) return String(value);
    const size = Math.abs(value);
    if (size !== 0 && (size >= 1e5 || size < 1e-3)) return value.toExponential(3);
    return Number(value.toPrecision(5)).toString();
  }

  // ---------- units: every metric read the same way everywhere (430.6k params, 12.35 ms, 1.2 MB)

  const COUNT_UNITS = new Set(["params", "parameters", "MACs/token", "FLOPs/token", "FLOPs/s of audio"]);
  const BYTE_UNITS = { bytes: "B", "bytes/token": "B/token" };
  const UNITLESS = new Set(["", "1", "score", "fraction"]);
  const PREFIXES = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];

  // [mantissa, SI prefix]: 430600 -> ["430.6", "k"]
  function si(value) {
    const size = Math.abs(value);
    const [scale, prefix] = PREFIXES.find(([s]) => size >= s) || [1, ""];
    return [Number((value / scale).toPrecision(4)).toString(), prefix];
  }

  // A value in its metric's unit, e.g. "430.6k params", "12.35 ms", "1.2 MB", "-3.1 nats".
  function fmtIn(value, unit) {
    if (value === null || value === undefined || !Number.isFinite(value)) return fmt(value);
    if (unit in BYTE_UNITS) {
      const [number, prefix] = si(value);
      return `${number} ${prefix}${BYTE_UNITS[unit]}`;
    }
    if (COUNT_UNITS.has(unit)) return `${si(value).join("")} ${unit}`;
    return UNITLESS.has(unit) ? fmt(value) : `${fmt(value)} ${unit}`;
  }

  // Units whose axes read best with SI ticks (1.2M rather than 1200000).
  function siTicks(unit) {
    return COUNT_UNITS.has(unit) || unit in BYTE_UNITS;
  }

  function arrow(direction) {
    return direction === "maximize" ? "↑" : "↓";
  }

  // "latency_ms (ms) ↓": an axis title or a heading; the arrow points the better way.
  function metricTitle(metric, unit, direction) {
    const shown = UNITLESS.has(unit) || unit === metric ? "" : ` (${unit})`; // "params", not "params (params)"
    return `${metric}${shown}${direction ? ` ${arrow(direction)}` : ""}`;
  }

  // The unit a hypervolume is in: the product of its objectives' units.
  function volumeUnit(objectives) {
    const units = objectives.map((o) => o.unit).filter((u) => !UNITLESS.has(u));
    return units.length ? units.join(" × ") : "unitless";
  }

  // "hypervolume 16.65 nats × FLOPs/token (reference point 0.5 nats, 3M FLOPs/token)": what the number is in.
  function hypervolumeText(job) {
    if (job.hypervolume === null) return "hypervolume: none yet (needs 10 feasible trials)";
    const reference = job.reference.map((r, k) => fmtIn(r, job.objectives[k].unit)).join(", ");
    return `hypervolume ${fmt(job.hypervolume)} ${volumeUnit(job.objectives)} (reference point ${reference})`;
  }

  function badge(status) {
    return el("span", { class: `badge ${status}` }, status);
  }

  function progress(done, budget, finished) {
    const share = budget ? Math.min(1, done / budget) : 0;
    const bar = el("span");
    bar.style.width = `${(share * 100).toFixed(1)}%`;
    return el("div", { class: finished ? "progress done" : "progress" },
      el("div", { class: "bar" }, bar), el("span", { class: "label" }, budget ? `${done}/${budget}` : `${done}`));
  }

  function setProgress(node, done, budget, finished) {
    node.replaceWith(Object.assign(progress(done, budget, finished), { id: node.id }));
  }

  // Call step() now and every `interval` ms while it resolves to true (something is still running).
  function poll(step, interval = 2000) {
    let timer = null;
    let generation = 0; // only the latest run schedules the next one
    const run = async () => {
      clearTimeout(timer);
      const mine = ++generation;
      let again = false;
      try {
        again = await step();
      } catch (error) {
        console.error(error);
        again = true; // a failed poll (server restarting) is retried
      }
      if (again && mine === generation) timer = setTimeout(run, interval);
    };
    run();
    return run; // call to poll again at once (after an action), restarting the timer
  }

  return {
    ACTIVE, ApiError, api, json, el, fmt, fmtIn, siTicks, arrow, metricTitle, volumeUnit, hypervolumeText, badge, progress, setProgress, poll,
  };
})();
