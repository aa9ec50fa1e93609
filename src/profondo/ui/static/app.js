// profondo workbench: one page, routed by the address's #fragment; plain JavaScript, uPlot for the curves.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const main = () => $("#main");
let cleanup = [];  // what the current page must undo when another is opened (event streams, timers)

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function fmt(n, digits = 4) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (typeof n !== "number") return esc(n);
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  return Math.abs(n) >= 1000 ? n.toLocaleString("en-US", {maximumFractionDigits: 1}) : String(+n.toPrecision(digits));
}
function pct(p) { return p === null || p === undefined ? "–" : (100 * p).toFixed(2) + " %"; }
function seconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "–";
  s = Math.round(s);
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}
function toast(text) {
  const t = $("#toast"); t.textContent = text; t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(body && body.error ? body.error : `${response.status} ${response.statusText}`);
  return body;
}
const post = (path, body) => api(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                         body: JSON.stringify(body || {})});

// --- routing ---------------------------------------------------------------------------------
const pages = {networks: pageNetworks, data: pageData, new: pageNew, jobs: pageJobs, job: pageJob,
               inspect: pageInspect, compare: pageCompare};

function route() {
  cleanup.forEach(f => { try { f(); } catch (e) { /* already closed */ } });
  cleanup = [];
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "jobs").split("/");
  document.querySelectorAll("header nav a").forEach(a => a.classList.toggle("active", a.dataset.page === name));
  const page = pages[name] || pageJobs;
  Promise.resolve(page(...rest)).catch(e => { main().innerHTML = `<div class="errors">${esc(e.message)}</div>`; });
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

// --- charts ----------------------------------------------------------------------------------
const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f", "#78716c", "#1e3a8a"];

// series: [{label, points: [[x, y], ...]}] on one x axis (their x values merged, gaps spanned).
function alignedData(series) {
  const xs = [...new Set(series.flatMap(s => s.points.map(p => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const data = [xs];
  for (const s of series) {
    const ys = new Array(xs.length).fill(null);
    for (const [x, y] of s.points) ys[index.get(x)] = (y === null || y === undefined || !Number.isFinite(y)) ? null : y;
    data.push(ys);
  }
  return data;
}

class Chart {
  constructor(el, title, {xLabel = "epoch", log = false, height = 220} = {}) {
    this.el = el; this.title = title; this.xLabel = xLabel; this.log = log; this.height = height;
    this.plot = null; this.labels = null;
  }
  set(series) {
    const points = series.reduce((n, s) => n + s.points.length, 0);
    this.el.dataset.points = points;
    this.el.dataset.series = series.length;
    if (!points) { this.el.innerHTML = `<p class="muted">${esc(this.title)}: no points yet</p>`; this.plot = null; return; }
    if (this.log) series = series.map(s => ({...s, points: s.points.filter(p => p[1] > 0)}));
    const data = alignedData(series);
    const labels = series.map(s => s.label).join("|");
    if (this.plot && labels === this.labels) { this.plot.setData(data); return; }
    if (this.plot) this.plot.destroy();
    this.el.innerHTML = "";
    this.labels = labels;
    const width = Math.max(Math.min(this.el.clientWidth || 560, 900), 320);
    this.plot = new uPlot({
      title: this.title, width, height: this.height,
      scales: {x: {time: false}, y: this.log ? {distr: 3} : {}},
      legend: {live: false},
      axes: [{label: this.xLabel}, {size: 60, values: (u, ticks) => ticks.map(v => v === null || v === undefined ? "" : v === 0 ? "0" : Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5 ? v.toExponential(1) : +v.toPrecision(3))}],
      series: [{label: this.xLabel}, ...series.map((s, i) => ({label: s.label, stroke: s.colour || COLOURS[i % COLOURS.length],
                                                                 width: s.width || 1.5, spanGaps: true,
                                                                 points: {show: s.dots ?? false}}))],
    }, data, this.el);
  }
}

// --- networks ----------------------------------------------------------------------------------
const DIGITS_NET = `name: digits-cnn
input: [1, 8, 8]
layers:
  - conv: {filters: 8, size: 3, stride: 1, pad: 1, activation: relu}
  - pool: {type: max, size: 2, stride: 2}
  - dense: {units: 32, activation: relu}
  - dense: {units: 10}
`;

async function pageNetworks(name) {
  const zoo = (await api("/api/zoo")).names;
  main().innerHTML = `
    <h1>Networks</h1>
    <div class="row">
      <div class="card" style="flex: 0 0 12rem"><h2>Zoo</h2><div class="list" id="zoo">
        ${zoo.map(n => `<a href="#/networks/${esc(n)}" data-name="${esc(n)}">${esc(n)}</a>`).join("")}
        <a href="#/networks/custom" data-name="custom"><em>your own file…</em></a></div></div>
      <div class="col card">
        <h2>Architecture file <span class="muted" id="net-name"></span></h2>
        <label><span>input shape</span><input id="input-shape" placeholder="the file's (e.g. 1,28,28)" size="16"></label>
        <label><span>open a file</span><input type="file" id="open-file" accept=".yaml,.yml,.txt"></label>
        <textarea id="editor" spellcheck="false"></textarea>
        <div id="check" class="muted">Type: the file is checked as you type.</div>
        <div id="errors" class="errors"></div>
        <p><button id="train-this">Train this network…</button></p>
      </div>
    </div>
    <div class="card"><h2>Drawing</h2><p class="errors" id="stale" hidden>The file has errors: the drawing is of its last version that built.</p>
      <p class="muted" id="scale-note"></p><div id="drawing" class="drawing"></div></div>
    <div class="card"><h2>Per layer (profondo analysis)</h2><div id="layers"></div></div>`;
  const current = name && (zoo.includes(name) || name === "custom") ? name : "lenet5";
  document.querySelectorAll("#zoo a").forEach(a => a.classList.toggle("active", a.dataset.name === current));
  $("#net-name").textContent = current === "custom" ? "(your own)" : current;
  const editor = $("#editor");
  if (current === "custom") editor.value = localStorage.getItem("profondo.custom") || DIGITS_NET;
  else editor.value = (await api(`/api/networks/${encodeURIComponent(current)}`)).text;
  let timer = null, sequence = 0;
  const check = async () => {
    const mine = ++sequence;
    $("#check").textContent = "checking…";
    try {
      const result = await post("/api/validate", {text: editor.value, input: $("#input-shape").value || null});
      if (mine !== sequence) return;  // a later keystroke's answer wins
      showCheck(result);
    } catch (e) { if (mine === sequence) { $("#check").textContent = ""; $("#errors").textContent = e.message; } }
  };
  const schedule = () => {
    if (current === "custom") localStorage.setItem("profondo.custom", editor.value);
    clearTimeout(timer); timer = setTimeout(check, 250);
  };
  editor.addEventListener("input", schedule);
  $("#open-file").onchange = async () => {  // read here, in the browser: the file goes nowhere
    const file = $("#open-file").files[0];
    if (!file) return;
    if (file.size > 256 * 1024) { $("#errors").textContent = `${file.name} is over 256 KiB: not an architecture file`; return; }
    if (current !== "custom") { localStorage.setItem("profondo.custom", await file.text()); location.hash = "#/networks/custom"; return; }
    editor.value = await file.text(); schedule();
  };
  $("#input-shape").addEventListener("input", schedule);
  $("#train-this").onclick = () => {
    sessionStorage.setItem("profondo.train", JSON.stringify({name: current, text: editor.value}));
    location.hash = "#/new";
  };
  cleanup.push(() => clearTimeout(timer));
  await check();
}

function showCheck(result) {
  const errors = result.errors || [];
  $("#check").innerHTML = result.ok ? `<span class="ok">✓ the file builds</span>` : "";
  const lines = $("#editor").value.split("\n");
  $("#errors").innerHTML = errors.map(e => `<div class="error-line" data-line="${e.line ?? ""}">` +
    `${e.line ? `line ${e.line}${e.column ? `, column ${e.column}` : ""}: ` : ""}${esc(e.message)}` +
    (e.line && lines[e.line - 1] !== undefined ? `<div class="muted">  ${e.line} | ${esc(lines[e.line - 1])}</div>` : "") + `</div>`).join("");
  $("#editor").classList.toggle("invalid", errors.length > 0);
  if (result.ok && result.layout) showLayout(result.layout, result.svg);
  $("#stale").hidden = errors.length === 0 || !$("#drawing").innerHTML;
}

function showLayout(layout, svg) {
  $("#drawing").innerHTML = svg || "";
  const scale = layout.scale || {};
  $("#scale-note").textContent = scale.note || "";
  const rows = layout.layers || [];
  const t = layout.totals || {};
  $("#layers").innerHTML = `<table id="layer-table"><tr><th>layer</th><th>kind</th><th>output (depth@H×W)</th><th>neurons</th>
    <th>connections</th><th>weights</th><th>MACs</th><th>receptive field</th></tr>
    ${rows.map(r => `<tr data-name="${esc(r.name)}"><td>${esc(r.name)}</td><td>${esc(r.kind)}</td><td>${esc(r.label)}</td>
      <td>${fmt(r.neurons)}</td><td>${fmt(r.connections)}</td><td>${fmt(r.weights)}</td><td>${fmt(r.macs)}</td>
      <td>${r.receptive_field ? r.receptive_field.join("×") : ""}</td></tr>`).join("")}
    <tr><th>total</th><th></th><th></th><th>${fmt(t.neurons)}</th><th>${fmt(t.connections)}</th><th>${fmt(t.weights)}</th>
      <th>${fmt(t.macs)}</th><th></th></tr></table>`;
}

// --- data -------------------------------------------------------------------------------------
async function pageData(name, ...rest) {
  const list = await api("/api/data");
  name = name ? decodeURIComponent([name, ...rest].join("/")) : "digits";
  main().innerHTML = `<h1>Data</h1><div class="row">
    <div class="card" style="flex: 0 0 14rem"><h2>Built in</h2><div class="list">
      ${list.builtin.map(n => `<a href="#/data/${esc(n)}" class="${n === name ? "active" : ""}">${esc(n)}</a>`).join("")}</div>
      <h2>Image folders</h2><div class="list">
      ${list.folders.length ? list.folders.map(n => `<a href="#/data/${encodeURIComponent(n)}" class="${n === name ? "active" : ""}">${esc(n)}</a>`).join("")
        : `<p class="muted">${list.data_dir ? "no folder with class sub-folders in " + esc(list.data_dir) : "start with <code>profondo ui --data DIR</code> to show a folder of image folders (one sub-folder per class)"}</p>`}</div></div>
    <div class="col card" id="data-detail"><p class="muted">Loading ${esc(name)}…</p></div></div>`;
  const d = await api(`/api/data/${encodeURIComponent(name)}`);
  const box = $("#data-detail");
  if (!d.available) { box.innerHTML = `<h2>${esc(name)}</h2><div class="errors">${esc(d.error)}</div>`; return; }
  const most = Math.max(...d.counts, 1);
  box.innerHTML = `<h2>${esc(d.name)}</h2>
    <p>${fmt(d.size)} images${d.shape ? ` of shape ${d.shape.join("×")}` : ""}${d.split ? ` (${d.split} split)` : ""}, ${d.classes.length} classes</p>
    <table id="class-counts"><tr><th>class</th><th>images</th><th></th></tr>
    ${d.classes.map((c, i) => `<tr><td>${esc(c)}</td><td>${fmt(d.counts[i])}</td>
      <td style="text-align:left"><span class="bar" style="width:${(12 * d.counts[i] / most).toFixed(2)}rem"></span></td></tr>`).join("")}</table>
    <h2>Samples</h2><div class="tiles" id="samples">${d.samples.map(s => `<div class="sample"><img src="${s.image}" alt="${esc(s.label)}">
      <div class="tile-label">${esc(s.label)}</div></div>`).join("")}</div>`;
}

// --- new job ---------------------------------------------------------------------------------
async function pageNew() {
  const form = await api("/api/form");
  const from = JSON.parse(sessionStorage.getItem("profondo.train") || "null");
  const field = f => {
    const id = `f-${f.name}`;
    if (f.kind === "bool") return `<label title="${esc(f.help)}"><span>${esc(f.name)}</span><input type="checkbox" id="${id}" ${f.default ? "checked" : ""}></label>`;
    if (f.name === "data") return `<label title="${esc(f.help)}"><span>data</span><select id="${id}">${form.data.map(d => `<option ${d === f.default ? "selected" : ""}>${esc(d)}</option>`).join("")}</select></label>`;
    if (f.choices) return `<label title="${esc(f.help)}"><span>${esc(f.name)}</span><select id="${id}">${f.choices.map(c => `<option ${c === f.default ? "selected" : ""}>${esc(c)}</option>`).join("")}</select></label>`;
    return `<label title="${esc(f.help)}"><span>${esc(f.name.replace("_", " "))}</span><input id="${id}" value="${esc(f.default)}" size="10"></label>`;
  };
  main().innerHTML = `<h1>New job</h1><div class="row">
    <div class="card col"><h2>Network</h2>
      <label><span>network</span><select id="f-architecture">
        ${form.zoo.map(n => `<option value="${esc(n)}">${esc(n)}</option>`).join("")}
        <option value="custom">your own file (below)</option></select></label>
      <textarea id="custom-text" spellcheck="false" placeholder="an architecture file (YAML)"></textarea>
      <label><span>job name</span><input id="f-name" placeholder="network-data" size="24"></label></div>
    <div class="card col"><h2>Data and hyper-parameters</h2>
      <p class="muted">The flags of <code>profondo train</code>, with its defaults.</p>
      ${form.fields.map(field).join("")}
      <p><button id="start">Start</button></p><div id="new-error" class="errors"></div></div></div>`;
  const select = $("#f-architecture"), text = $("#custom-text");
  const showText = () => { text.style.display = select.value === "custom" ? "" : "none"; };
  if (from) {
    if (form.zoo.includes(from.name)) select.value = from.name;
    else { select.value = "custom"; text.value = from.text; }
    sessionStorage.removeItem("profondo.train");
  } else { select.value = "lenet5"; }
  if (!text.value) text.value = localStorage.getItem("profondo.custom") || DIGITS_NET;
  select.onchange = showText; showText();
  $("#start").onclick = async () => {
    const body = {};
    for (const f of form.fields) {
      const el = $(`#f-${f.name}`);
      const value = f.kind === "bool" ? el.checked : el.value.trim();
      if (value !== "" && String(value) !== String(f.default)) body[f.name] = f.kind === "int" && /^\d+$/.test(value) ? Number(value)
        : f.kind === "float" && value !== "" && !Number.isNaN(Number(value)) ? Number(value) : value;
    }
    body.data = $("#f-data").value;
    if (select.value === "custom") body.architecture_text = text.value; else body.architecture = select.value;
    if ($("#f-name").value.trim()) body.name = $("#f-name").value.trim();
    $("#start").disabled = true;
    try {
      const job = await post("/api/jobs", body);
      location.hash = `#/job/${job.id}`;
    } catch (e) { $("#new-error").textContent = e.message; $("#start").disabled = false; }
  };
}

// --- jobs ------------------------------------------------------------------------------------
function lastEpoch(job) { return job.result ? job.result.epochs : null; }
function actions(job) {
  const b = [];
  if (job.status === "running" || job.status === "queued") b.push(`<button data-act="stop" data-job="${job.id}" class="secondary">stop</button>`);
  if (job.status === "stopped" || job.status === "failed") b.push(`<button data-act="resume" data-job="${job.id}" class="secondary">resume</button>`);
  b.push(`<button data-act="clone" data-job="${job.id}" class="secondary">clone</button>`);
  return b.join(" ");
}
function bindActions(root, after) {
  root.querySelectorAll("button[data-act]").forEach(btn => btn.onclick = async () => {
    btn.disabled = true;
    try {
      const job = await post(`/api/jobs/${btn.dataset.job}/${btn.dataset.act}`);
      if (btn.dataset.act === "clone") location.hash = `#/job/${job.id}`; else after();
    } catch (e) { toast(e.message); btn.disabled = false; }
  });
}

async function pageJobs() {
  const draw = async () => {
    const {jobs} = await api("/api/jobs");
    main().innerHTML = `<h1>Jobs</h1><p><a href="#/new">+ new job</a></p>
      ${jobs.length ? `<table id="jobs"><tr><th>job</th><th>status</th><th>network</th><th>data</th><th>epochs</th>
        <th>test accuracy</th><th>created</th><th></th></tr>
      ${jobs.map(j => `<tr data-job="${j.id}"><td><a href="#/job/${j.id}">${j.id} ${esc(j.name)}</a></td>
        <td><span class="status ${j.status}">${j.status}</span></td><td>${esc(j.config.network || j.config.architecture)}</td><td>${esc(j.config.data)}</td>
        <td>${fmt(j.config.epochs)}</td><td>${j.result ? pct(j.result.test_accuracy) : "–"}</td>
        <td>${new Date(j.created * 1000).toLocaleString()}</td><td>${actions(j)}</td></tr>`).join("")}</table>`
        : `<p class="muted">No job yet: <a href="#/new">start one</a>.</p>`}`;
    bindActions(main(), draw);
  };
  await draw();
  const timer = setInterval(() => { if (!document.querySelector("button:disabled")) draw().catch(() => {}); }, 3000);
  cleanup.push(() => clearInterval(timer));
}

async function pageJob(id) {
  let job = await api(`/api/jobs/${id}`);
  main().innerHTML = `<h1>Job ${job.id}: ${esc(job.name)} <span class="status ${job.status}" id="job-status">${job.status}</span></h1>
    <div class="card"><div id="job-summary"></div><div id="job-actions"></div><div id="job-error"></div></div>
    <div class="row"><div class="col card"><div id="loss-chart" class="chart"></div></div>
      <div class="col card"><div id="acc-chart" class="chart"></div></div></div>
    <div class="row"><div class="col card"><div id="lr-chart" class="chart"></div></div>
      <div class="col card"><div id="grad-chart" class="chart"></div>
        <p class="muted">The norm of each layer's weight gradient, on a log scale: layers far from the loss whose
        norm falls by orders of magnitude learn slowly (the vanishing gradient of sigmoid networks).</p></div></div>
    <div class="card"><h2>Histograms <span class="muted" id="hist-epoch"></span></h2><div id="histograms"></div></div>
    <div class="card"><h2>Downloads</h2><div id="downloads"></div></div>`;
  const charts = {loss: new Chart($("#loss-chart"), "loss"), acc: new Chart($("#acc-chart"), "accuracy"),
                  lr: new Chart($("#lr-chart"), "learning rate"), grad: new Chart($("#grad-chart"), "gradient norm per layer", {xLabel: "step", log: true})};
  const state = {batch: [], epoch: [], gradients: []};
  const steps = () => job.total_steps && job.config.epochs ? job.total_steps / job.config.epochs : null;
  const redraw = () => {
    const spe = steps() || 1;
    const bx = p => p.step / spe;
    charts.loss.set([{label: "train (running, per batch)", points: state.batch.map(p => [bx(p), p.loss])},
                     {label: "train (epoch)", points: state.epoch.map(p => [p.step, p.loss]), dots: true},
                     {label: "validation", points: state.epoch.filter(p => "val_loss" in p).map(p => [p.step, p.val_loss]), dots: true}]);
    charts.acc.set([{label: "train (running, per batch)", points: state.batch.filter(p => "acc" in p).map(p => [bx(p), p.acc])},
                    {label: "train (epoch)", points: state.epoch.filter(p => "accuracy" in p).map(p => [p.step, p.accuracy]), dots: true},
                    {label: "validation", points: state.epoch.filter(p => "val_accuracy" in p).map(p => [p.step, p.val_accuracy]), dots: true}]);
    charts.lr.set([{label: "learning rate", points: state.batch.map(p => [bx(p), p.lr])}]);
    const layers = [...new Set(state.gradients.flatMap(g => Object.keys(g.norms)))];
    charts.grad.set(layers.map(l => ({label: l, points: state.gradients.filter(g => l in g.norms).map(g => [g.step, g.norms[l]])})));
    const last = state.batch[state.batch.length - 1];
    const lastEpochRow = state.epoch[state.epoch.length - 1];
    $("#job-summary").innerHTML = `<p>${esc(job.config.network || job.config.architecture)} on ${esc(job.config.data)}: ${fmt(job.config.epochs)} epochs, batch ${fmt(job.config.batch_size)},
      ${esc(job.config.optimizer)} lr ${fmt(job.config.lr)} (${esc(job.config.schedule)}), device ${esc(job.config.device)}</p>
      <p id="progress">${last ? `step ${fmt(last.step)}${job.total_steps ? " of " + fmt(job.total_steps) : ""}, epoch ${last.epoch + 1};
        time ${seconds(last.time)}; ETA ${job.status === "running" ? seconds(last.eta) : "–"}; running loss ${fmt(last.loss)}` : "no step yet"}
      ${lastEpochRow && "val_accuracy" in lastEpochRow ? `; validation accuracy ${pct(lastEpochRow.val_accuracy)}` : ""}
      ${job.result ? `; <strong>test accuracy ${pct(job.result.test_accuracy)}</strong> on ${fmt(job.result.test_images)} images` : ""}</p>`;
  };
  const showJob = () => {
    $("#job-status").textContent = job.status; $("#job-status").className = `status ${job.status}`;
    $("#job-actions").innerHTML = actions(job) + (job.can_export ? ` <a href="#/inspect/${job.id}">inspect the trained network →</a>` : "");
    bindActions($("#job-actions"), async () => { job = await api(`/api/jobs/${id}`); showJob(); openStream(); });
    $("#job-error").innerHTML = job.error ? `<pre class="error" id="error-text">${esc(job.error)}</pre>` : "";
    const files = [...new Set([...job.files, ...(job.can_export ? ["model.onnx", "model.edge"] : [])])];
    $("#downloads").innerHTML = files.map(f => `<a href="/api/jobs/${job.id}/files/${f}" download>${esc(f)}</a>`).join(" · ") || "<span class='muted'>nothing yet</span>";
  };
  const histograms = async () => {
    const h = await api(`/api/jobs/${id}/histograms`);
    const box = $("#histograms");
    if (!h.weights && !h.activations) { box.innerHTML = `<p class="muted">none yet</p>`; return; }
    $("#hist-epoch").textContent = h.weights ? `(after epoch ${h.weights.epoch})` : "";
    box.innerHTML = "";
    for (const [kind, entry] of [["weights", h.weights], ["activations", h.activations]]) {
      if (!entry) continue;
      const row = document.createElement("div");
      row.innerHTML = `<h3 style="font-size:.9rem">${kind}</h3>`;
      for (const [layer, hist] of Object.entries(entry.layers)) row.appendChild(histogram(layer, hist));
      box.appendChild(row);
    }
  };
  let source = null;
  const openStream = () => {
    if (source) source.close();
    source = new EventSource(`/api/jobs/${id}/events`);
    source.onmessage = ev => {
      const u = JSON.parse(ev.data);
      const epochsBefore = state.epoch.length, batchesBefore = state.batch.length;
      if (u.job) job = u.job;
      // points after the last one held (a resumed job sends its remaining points again from its checkpoint)
      for (const k of ["batch", "epoch", "gradients"]) {
        const rows = u[k] || [];
        if (rows.length) {
          const first = rows[0].step;
          state[k] = state[k].filter(p => p.step < first).concat(rows);
        }
      }
      redraw(); showJob();
      // the histograms of the start come with the first points, the others with each epoch's end
      if (state.epoch.length !== epochsBefore || (batchesBefore === 0 && state.batch.length)) histograms().catch(() => {});
    };
    source.addEventListener("end", () => { source.close(); });
    source.onerror = () => { /* the browser reconnects by itself */ };
  };
  cleanup.push(() => source && source.close());
  const m = await api(`/api/jobs/${id}/metrics`);
  Object.assign(state, m);
  redraw(); showJob(); histograms().catch(() => {});
  openStream();
}

function histogram(layer, hist) {
  const wrap = document.createElement("div");
  wrap.className = "hist";
  const counts = hist.counts || [], edges = hist.edges || [];
  const c = document.createElement("canvas"); c.width = 160; c.height = 60;
  const g = c.getContext("2d"), most = Math.max(...counts, 1);
  g.fillStyle = "#60a5fa";
  counts.forEach((n, i) => { const h = 56 * n / most; g.fillRect(i * c.width / counts.length, 58 - h, c.width / counts.length - 1, h); });
  wrap.appendChild(c);
  const label = document.createElement("div");
  label.textContent = `${layer}  [${fmt(edges[0], 2)}, ${fmt(edges[edges.length - 1], 2)}]`;
  wrap.appendChild(label);
  return wrap;
}

// --- inspect ---------------------------------------------------------------------------------
async function pageInspect(id) {
  const job = await api(`/api/jobs/${id}`);
  main().innerHTML = `<h1>Inspect job ${job.id}: ${esc(job.name)}</h1>
    <div class="card"><label><span>a test image</span><input id="test-index" value="0" size="6"> <button id="classify-index">classify</button></label>
      <label><span>or your image</span><input type="file" id="upload" accept=".png,.jpg,.jpeg,.npy"></label>
      <div id="inspect-error" class="errors"></div></div>
    <div class="row"><div class="card" style="flex: 0 0 18rem"><h2>Prediction</h2><div id="prediction"></div></div>
      <div class="card col"><h2>First layer's filters</h2><div id="filters"></div></div></div>
    <div class="card"><h2>Feature maps</h2><div id="feature-maps"></div></div>
    <div class="card"><h2>Confusion matrix <span class="muted" id="confusion-note"></span></h2><div id="confusion"></div>
      <h2>Misclassified</h2><div id="misclassified" class="tiles"></div></div>`;
  const show = r => {
    $("#inspect-error").textContent = "";
    $("#prediction").innerHTML = `<img src="${r.input}" alt="input" style="image-rendering:pixelated">
      ${r.label_name !== null ? `<p>true class: <strong>${esc(r.label_name)}</strong></p>` : ""}
      <table id="top5"><tr><th>class</th><th>probability</th></tr>${r.top.map(t => `<tr><td>${esc(t.name)}</td><td>${pct(t.p)}</td></tr>`).join("")}</table>`;
    $("#filters").innerHTML = r.filters ? `<p class="muted">${esc(r.filters.layer)}: ${r.filters.shape.join("×")}</p>
      <div class="tiles">${r.filters.tiles.map(t => `<img src="${t}" alt="filter">`).join("")}</div>` : "<p class='muted'>no convolution</p>";
    $("#feature-maps").innerHTML = r.layers_error ? `<p class="errors">${esc(r.layers_error)}</p>` : r.layers.map(l => `
      <div class="fmap-layer" data-name="${esc(l.name)}" data-shape="${l.shape.join(",")}" data-count="${l.count}">
        <strong>${esc(l.name)}</strong> <span class="muted">${l.shape.join("×")}</span>
        <div class="tiles">${l.maps.map(m => `<img src="${m}" alt="map">`).join("")}</div></div>`).join("");
  };
  let latest = 0;  // only the last request's answer is shown (an earlier one may arrive later)
  const run = async (promise) => {
    const mine = ++latest;
    try { const r = await promise; if (mine === latest) show(r); }
    catch (e) { if (mine === latest) $("#inspect-error").textContent = e.message; }
  };
  $("#classify-index").onclick = () => run(api(`/api/jobs/${id}/inspect?index=${encodeURIComponent($("#test-index").value)}`, {method: "POST"}));
  $("#upload").onchange = () => {
    const file = $("#upload").files[0];
    if (file) run(api(`/api/jobs/${id}/inspect`, {method: "POST", body: file}));
  };
  await run(api(`/api/jobs/${id}/inspect?index=0`, {method: "POST"}));
  try {
    const c = await api(`/api/jobs/${id}/confusion?limit=2000`);
    $("#confusion-note").textContent = `(${fmt(c.images)} test images, accuracy ${pct(c.accuracy)}; rows: true class, columns: predicted)`;
    const most = Math.max(...c.matrix.flat(), 1);
    $("#confusion").innerHTML = `<table class="confusion" id="confusion-table"><tr><th></th>${c.classes.map(x => `<th>${esc(x)}</th>`).join("")}</tr>
      ${c.matrix.map((row, i) => `<tr><th>${esc(c.classes[i])}</th>${row.map((n, j) => `<td style="background:${i === j ? `rgba(22,163,74,${(0.15 + 0.6 * n / most).toFixed(2)})` : n ? `rgba(220,38,38,${(0.15 + 0.6 * n / most).toFixed(2)})` : "transparent"}">${n}</td>`).join("")}</tr>`).join("")}</table>`;
    $("#misclassified").innerHTML = c.misclassified.map(m => `<div class="sample"><img src="${m.image}" alt="">
      <div class="tile-label">${esc(m.label)} → ${esc(m.predicted)}</div></div>`).join("") || "<p class='muted'>none</p>";
  } catch (e) { $("#confusion").innerHTML = `<p class="errors">${esc(e.message)}</p>`; }
}

// --- compare ---------------------------------------------------------------------------------
async function pageCompare(a, b) {
  const {jobs} = await api("/api/jobs");
  const options = sel => jobs.map(j => `<option value="${j.id}" ${String(j.id) === String(sel) ? "selected" : ""}>${j.id} ${esc(j.name)}</option>`).join("");
  a = a || (jobs[1] && jobs[1].id); b = b || (jobs[0] && jobs[0].id);
  main().innerHTML = `<h1>Compare two runs</h1><div class="card">
    <select id="run-a">${options(a)}</select> against <select id="run-b">${options(b)}</select></div>
    <div class="row"><div class="col card"><div id="cmp-loss" class="chart"></div></div><div class="col card"><div id="cmp-acc" class="chart"></div></div></div>
    <div class="card"><div id="cmp-grad" class="chart"></div><p class="muted">Gradient norm of each run's first and last layer with weights, per step.</p></div>`;
  const go = () => { location.hash = `#/compare/${$("#run-a").value}/${$("#run-b").value}`; };
  $("#run-a").onchange = go; $("#run-b").onchange = go;
  if (!a || !b) return;
  const [ma, mb] = await Promise.all([api(`/api/jobs/${a}/metrics`), api(`/api/jobs/${b}/metrics`)]);
  const loss = [], acc = [], grad = [];
  const names = Object.fromEntries(jobs.map(j => [String(j.id), `${j.id} ${j.name}`]));
  for (const [job, m] of [[a, ma], [b, mb]]) {
    const id = names[String(job)] || job;
    loss.push({label: `${id} train`, points: m.epoch.map(p => [p.step, p.loss]), dots: true});
    if (m.epoch.some(p => "val_loss" in p)) loss.push({label: `${id} validation`, points: m.epoch.map(p => [p.step, p.val_loss]), dots: true});
    acc.push({label: `${id} train`, points: m.epoch.filter(p => "accuracy" in p).map(p => [p.step, p.accuracy]), dots: true});
    if (m.epoch.some(p => "val_accuracy" in p)) acc.push({label: `${id} validation`, points: m.epoch.map(p => [p.step, p.val_accuracy]), dots: true});
    const layers = [...new Set(m.gradients.flatMap(g => Object.keys(g.norms)))];
    for (const l of [layers[0], layers[layers.length - 1]].filter((x, i, all) => x && all.indexOf(x) === i))
      grad.push({label: `${id} ${l}`, points: m.gradients.filter(g => l in g.norms).map(g => [g.step, g.norms[l]])});
  }
  new Chart($("#cmp-loss"), "loss per epoch").set(loss);
  new Chart($("#cmp-acc"), "accuracy per epoch").set(acc);
  new Chart($("#cmp-grad"), "gradient norms", {xLabel: "step", log: true}).set(grad);
}
