// QuantumFlow console: draws one level of a workflow's DAG as SVG from the
// JSON API (the server lays it out), keeps it live by polling small deltas,
// shows a node's panel, the timeline, and runs the actions. Plain
// JavaScript, no build step: docs/CONSOLE.md.
(() => {
  'use strict';

  const NS = 'http://www.w3.org/2000/svg';
  const W = 168, H = 54; // NodeWidth, NodeHeight in layout.go

  const $ = (sel, root = document) => root.querySelector(sel);
  const csrfToken = () => $('meta[name="csrf-token"]').content;

  function h(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
    return e;
  }

  function s(tag, attrs = {}, ...kids) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const k of kids.flat()) if (k) e.append(k);
    return e;
  }

  function toast(msg, kind = 'info') {
    const t = $('#toast');
    if (!t) return;
    t.textContent = msg;
    t.className = 'show ' + kind;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.className = ''; }, 6000);
  }

  async function api(path, opts = {}) {
    const res = await fetch(path, {
      credentials: 'same-origin',
      ...opts,
      headers: { Accept: 'application/json', ...(opts.headers || {}) },
    });
    let body = {};
    try { body = await res.json(); } catch (_) { /* empty body */ }
    if (!res.ok) {
      const err = new Error(body.error || res.statusText);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  const fmtMS = (ms) => {
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    if (ms < 3600000) return `${Math.floor(ms / 60000)}m${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}s`;
    return `${Math.floor(ms / 3600000)}h${String(Math.floor(ms / 60000) % 60).padStart(2, '0')}m`;
  };
  const fmtTime = (iso) => (iso ? iso.replace('T', ' ').replace(/\.(\d{3})\d*Z$/, '.$1 UTC') : '–');
  const pretty = (v) => (v === null || v === undefined ? null : JSON.stringify(v, null, 2));
  const short = (str, n) => (str.length > n ? str.slice(0, n - 1) + '…' : str);

  // ---- the workflow page -------------------------------------------------

  const wfEl = $('#wf');
  if (!wfEl) return;
  const wfID = wfEl.dataset.id;
  const known = wfEl.dataset.states.split(' ');
  const knownSet = new Set(known);
  const pollMS = Number(wfEl.dataset.pollMs) || 1000;
  const riverUI = wfEl.dataset.river === 'true';
  const stClass = (st) => (knownSet.has(st) ? 'st-' + st : 'st-other');
  const final = new Set(['completed', 'failed', 'cancelled']);

  const view = { group: wfEl.dataset.group || '', cursor: '', members: new Map(), nodes: new Map(), panel: '', polls: 0, status: '' };
  window.qf = { drawSeq: 0, drawn: null, view };

  function orderedStates(counts) {
    const extra = Object.keys(counts).filter((k) => !knownSet.has(k)).sort();
    return known.concat(extra);
  }

  function renderSummary(counts, total) {
    const el = $('#summary');
    el.replaceChildren(
      h('span', { class: 'total', text: `${total} nodes` }),
      ...orderedStates(counts).filter((st) => counts[st] || knownSet.has(st)).map((st) =>
        h('span', { class: `chip ${stClass(st)}${counts[st] ? '' : ' zero'}`, 'data-state': st, 'data-count': counts[st] || 0 },
          h('i'), st, ' ', h('b', { text: String(counts[st] || 0) }))),
    );
  }

  function renderHead(w) {
    view.status = w.status;
    const b = $('#wf-status');
    b.textContent = w.status;
    b.className = 'badge ' + (final.has(w.status) || w.status === 'pending' || w.status === 'running' ? 'st-' + w.status : 'st-other');
    const started = w.started_at ? Date.parse(w.started_at) : null;
    const end = w.finished_at ? Date.parse(w.finished_at) : Date.now();
    $('#wf-duration').textContent = started ? `ran ${fmtMS(end - started)}` : 'not started';
    $('#cancel-btn').hidden = final.has(w.status);
    $('.retry').hidden = !(w.status === 'failed' || w.status === 'cancelled');
  }

  function countBar(m) {
    const g = s('g', { class: 'bar', transform: `translate(12, ${H - 13})` });
    const width = W - 24;
    g.append(s('rect', { class: 'bar-bg', width, height: 5, rx: 2.5 }));
    let x = 0;
    for (const st of orderedStates(m.counts || {})) {
      const c = (m.counts || {})[st];
      if (!c) continue;
      const w = (width * c) / m.descendants;
      g.append(s('rect', { class: 'seg ' + stClass(st), x: x.toFixed(2), width: Math.max(w, 1).toFixed(2), height: 5 }));
      x += w;
    }
    return g;
  }

  function nodeEl(m) {
    const isGroup = m.kind === null;
    const hasMembers = m.descendants > 0;
    const g = s('g', {
      class: `node ${stClass(m.state)}${isGroup ? ' group' : ' leaf'}${hasMembers ? ' has-members' : ''}${view.panel === m.path ? ' selected' : ''}`,
      transform: `translate(${m.x},${m.y})`,
      'data-path': m.path,
      'data-state': m.state,
      tabindex: 0,
      role: 'button',
    });
    const counts = hasMembers ? Object.entries(m.counts).map(([k, v]) => `${k}: ${v}`).join(', ') : '';
    g.append(s('title', { text: `${m.path}\n${m.state}${m.kind ? ' · ' + m.kind : ''}${counts ? '\n' + counts : ''}` }));
    g.append(s('rect', { class: 'box', width: W, height: H, rx: 8 }));
    g.append(s('rect', { class: 'stripe', width: 5, height: H - 12, x: 0, y: 6, rx: 2 }));
    g.append(s('text', { class: 'name', x: 14, y: 20, text: short(m.name, isGroup ? 18 : 21) }));
    let sub;
    if (isGroup) sub = `${m.descendants} nodes · ${m.state}`;
    else if (hasMembers) sub = `${m.kind} · expanded · ${m.state}`;
    else sub = `${m.kind} · ${m.state}${m.attempts > 1 ? ` · ${m.attempts} attempts` : ''}`;
    g.append(s('text', { class: 'sub', x: 14, y: 37, text: short(sub, 28) }));
    if (hasMembers) g.append(countBar(m));
    if (isGroup) g.append(s('text', { class: 'expand', x: W - 20, y: 21, text: '⊞' }));
    return g;
  }

  // An edge leaves its source's layer at the layer's last column and
  // enters the target's layer at its first column, running straight
  // (behind the boxes) through a wrapped layer's columns.
  function edgePath(a, b) {
    const y1 = a.y + H / 2, y2 = b.y + H / 2;
    const x0 = a.x + W, x1 = a.layer_x1 + W, x2 = b.layer_x0 - 8, x3 = b.x - 6;
    const dx = Math.max(20, (x2 - x1) / 2);
    let d = `M${x0},${y1}`;
    if (x1 > x0) d += ` L${x1},${y1}`;
    d += ` C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
    if (x3 > x2) d += ` L${x3},${y2}`;
    return d;
  }

  function renderLevelPath() {
    const el = $('#level-path');
    const parts = view.group ? view.group.split('/') : [];
    const items = [h('a', { href: '#', 'data-group': '', text: 'top level' })];
    parts.forEach((p, i) => {
      items.push(' › ');
      const path = parts.slice(0, i + 1).join('/');
      items.push(i === parts.length - 1 ? h('b', { text: p }) : h('a', { href: '#', 'data-group': path, text: p }));
    });
    el.replaceChildren(...items);
  }

  function draw(lv) {
    view.members = new Map(lv.members.map((m) => [m.path, m]));
    view.nodes = new Map();
    const svg = s('svg', { class: 'dag', width: lv.width, height: lv.height, viewBox: `0 0 ${lv.width} ${lv.height}` });
    svg.append(s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 6, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto' },
      s('path', { d: 'M0,0 L8,4 L0,8 z', class: 'arrow' }))));
    const edges = s('g', { class: 'edges' });
    const parts = [];
    for (const m of lv.members) for (const d of m.dep_index) parts.push(edgePath(lv.members[d], m));
    // Up to 400 edges get a path (and an arrowhead) each; beyond, one path
    // holds them all: thousands of edges cost one element.
    if (parts.length <= 400) for (const d of parts) edges.append(s('path', { d, 'marker-end': 'url(#arrow)' }));
    else {
      edges.classList.add('dense');
      edges.append(s('path', { d: parts.join(' ') }));
    }
    svg.append(edges);
    const nodes = s('g', { class: 'nodes' });
    const frag = document.createDocumentFragment();
    for (const m of lv.members) {
      const g = nodeEl(m);
      view.nodes.set(m.path, g);
      frag.append(g);
    }
    nodes.append(frag);
    svg.append(nodes);
    const canvas = $('#graph');
    canvas.replaceChildren(lv.members.length ? svg : h('p', { class: 'muted', text: 'This level has no nodes yet.' }));
  }

  function applyLevel(lv) {
    view.cursor = lv.cursor;
    renderHead(lv.workflow);
    renderSummary(lv.counts, lv.total);
  }

  async function loadLevel(group, push) {
    const t0 = performance.now();
    const lv = await api(`/api/workflows/${wfID}/graph?group=${encodeURIComponent(group)}`);
    if (lv.group !== view.group) closePanel();
    view.group = lv.group;
    applyLevel(lv);
    draw(lv);
    renderLevelPath();
    if (push) {
      const url = new URL(location.href);
      if (lv.group) url.searchParams.set('group', lv.group); else url.searchParams.delete('group');
      history.pushState({ group: lv.group }, '', url);
    }
    // Drawn once the browser has laid the SVG out and painted it.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    window.qf.drawn = { group: lv.group, members: lv.members.length, ms: performance.now() - t0, at: performance.now() };
    document.body.dataset.drawn = String(++window.qf.drawSeq);
  }

  async function poll() {
    if (document.hidden || !view.cursor) return;
    view.ticks = (view.ticks || 0) + 1;
    // A final workflow changes only when someone retries it: ask less.
    if (final.has(view.status) && view.ticks % 5 !== 0) return;
    view.polls++;
    const full = view.polls % 15 === 0;
    const q = `group=${encodeURIComponent(view.group)}${full ? '' : '&since=' + encodeURIComponent(view.cursor)}`;
    let lv;
    try {
      lv = await api(`/api/workflows/${wfID}/graph?${q}`);
    } catch (err) {
      toast(`Live updates paused: ${err.message}`, 'error');
      return;
    }
    if (lv.group !== view.group) return; // the user moved on meanwhile
    applyLevel(lv);
    for (const m of lv.members) {
      const old = view.nodes.get(m.path);
      view.members.set(m.path, m);
      if (!old) continue;
      const g = nodeEl(m);
      old.replaceWith(g);
      view.nodes.set(m.path, g);
    }
    if (view.panel && !$('#panel').hidden && (full || lv.members.some((m) => view.panel === m.path || view.panel.startsWith(m.path + '/')))) {
      openPanel(view.panel, true);
    }
  }

  // ---- the node panel ----------------------------------------------------

  function row(label, value) {
    return [h('dt', { text: label }), h('dd', {}, value)];
  }

  function jsonBlock(title, v, cls = '') {
    const txt = pretty(v);
    return h('section', {}, h('h3', { text: title }), txt === null ? h('p', { class: 'muted', text: 'null' }) : h('pre', { class: cls, text: txt }));
  }

  function closePanel() {
    $('#panel').hidden = true;
    view.panel = '';
    for (const g of view.nodes.values()) g.classList.remove('selected');
  }

  async function openPanel(path, refresh) {
    const panel = $('#panel');
    let d;
    try {
      d = await api(`/api/workflows/${wfID}/node?path=${encodeURIComponent(path)}`);
    } catch (err) {
      if (!refresh) toast(`Node ${path}: ${err.message}`, 'error');
      return;
    }
    for (const g of view.nodes.values()) g.classList.toggle('selected', g.dataset.path === path);
    view.panel = path;
    const job = d.job_id === null ? '–'
      : riverUI ? h('a', { href: `/river/jobs/${d.job_id}`, text: `#${d.job_id}`, title: 'Open in River UI' }) : `#${d.job_id}`;
    const started = d.started_at ? Date.parse(d.started_at) : null;
    const ended = d.finished_at ? Date.parse(d.finished_at) : null;
    const attempts = [];
    for (const j of d.jobs) {
      for (const a of j.attempts) {
        attempts.push(h('tr', { class: 'o-' + a.outcome },
          h('td', { text: String(a.number) }),
          h('td', { class: 'mono', text: `#${j.id}` }),
          h('td', { text: fmtTime(a.started_at) }),
          h('td', { text: fmtTime(a.at) }),
          h('td', {}, h('span', { class: 'badge small ' + stClass(a.outcome === 'discarded' ? 'failed' : a.outcome), text: a.outcome })),
          h('td', { class: 'err', text: a.error || '' })));
      }
    }
    panel.replaceChildren(...[
      h('div', { class: 'panel-head' },
        h('div', {}, h('h2', { text: path.split('/').pop() }), h('p', { class: 'mono muted', text: path })),
        h('button', { class: 'link close', 'aria-label': 'Close', text: '✕', onclick: closePanel })),
      h('span', { class: 'badge ' + stClass(d.state), id: 'panel-state', text: d.state }),
      d.why ? h('p', { class: 'why', id: 'panel-why' }, h('b', { text: 'Why: ' }), d.why) : null,
      h('dl', {},
        row('Kind', d.kind === null ? h('i', { text: 'group' }) : h('code', { text: d.kind })),
        row('Attempts', `${d.attempts}${d.max_attempts ? ' of ' + d.max_attempts : ''}`),
        row('Deps', d.deps.length ? d.deps.join(', ') : '–'),
        row('Members', String(d.children)),
        row('Queue', d.queue || 'default'),
        row('On dep failure', d.on_dep_failure),
        row('River job', job),
        row('Started', fmtTime(d.started_at)),
        row('Finished', fmtTime(d.finished_at)),
        row('Took', started && ended ? fmtMS(ended - started) : '–')),
      d.children > 0 ? h('button', { class: 'primary', text: `Open its ${d.children} members`, onclick: () => loadLevel(path, true) }) : null,
      d.kind !== null ? h('div', { class: 'node-actions' },
        h('button', { class: 'danger', id: 'node-cancel', text: 'Cancel node', title: 'Cancel this node (operators only)', onclick: () => actNode('cancel', path) }),
        h('button', { id: 'node-retry', text: 'Retry node', title: 'Rerun this failed or cancelled node (operators only)', onclick: () => actNode('retry', path) })) : null,
      d.error ? h('section', {}, h('h3', { text: 'Error' }), h('pre', { class: 'error', id: 'panel-error', text: d.error })) : null,
      d.kind !== null ? jsonBlock('Args', d.args) : null,
      jsonBlock('Output', d.output),
      d.kind !== null ? h('section', {}, h('h3', { text: 'Attempts' }),
        attempts.length ? h('table', { class: 'attempts' },
          h('thead', {}, h('tr', {}, ['#', 'job', 'started', 'failed / ended', 'outcome', 'error'].map((t) => h('th', { text: t })))),
          h('tbody', {}, attempts))
          : h('p', { class: 'muted', text: d.attempts ? 'River has cleaned the jobs up; the node keeps its last result.' : 'Not run yet.' })) : null,
    ].filter(Boolean));
    panel.dataset.path = path;
    panel.hidden = false;
  }

  // ---- actions -----------------------------------------------------------

  async function act(action) {
    if (action === 'cancel' && !window.confirm('Cancel this workflow? Nodes not final will be cancelled.')) return;
    const body = new URLSearchParams();
    if (action === 'retry') body.set('mode', $('#retry-mode').value);
    try {
      const res = await api(`/api/workflows/${wfID}/${action}`, {
        method: 'POST',
        headers: { 'X-CSRF-Token': csrfToken(), 'Content-Type': 'application/x-www-form-urlencoded' },
        body,
      });
      const done = {
        cancel: () => `Cancelled: ${res.nodes} nodes, ${res.jobs} jobs.`,
        retry: () => `Retrying (${res.mode}): ${res.nodes} nodes reset, ${res.jobs} jobs enqueued.`,
        pause: () => 'Paused: no new node is released until you resume.',
        resume: () => 'Resumed.',
      };
      toast(done[action](), 'ok');
      view.polls = 14; // the next poll is a full one, and runs even on a final workflow
      view.ticks = 4;
      setTimeout(poll, 100);
    } catch (err) {
      toast(`Refused (${err.status}): ${err.message}`, 'error');
      document.body.dataset.lastRefusal = String(err.status);
    }
  }

  for (const b of document.querySelectorAll('[data-action]')) b.addEventListener('click', () => act(b.dataset.action));

  // actNode cancels or retries one node (flow control's per-node actions).
  async function actNode(action, path) {
    if (action === 'cancel' && !window.confirm(`Cancel node ${path}? Its dependents follow their on_dep_failure.`)) return;
    try {
      const res = await api(`/api/workflows/${wfID}/nodes/${action}?path=${encodeURIComponent(path)}`, {
        method: 'POST',
        headers: { 'X-CSRF-Token': csrfToken() },
      });
      toast(action === 'cancel' ? `Cancelled node ${path} (${res.jobs} jobs).` : `Retrying node ${path}: ${res.nodes} nodes reset.`, 'ok');
      view.polls = 14;
      view.ticks = 4;
      setTimeout(poll, 100);
      setTimeout(() => openPanel(path, true), 300);
    } catch (err) {
      toast(`Refused (${err.status}): ${err.message}`, 'error');
      document.body.dataset.lastRefusal = String(err.status);
    }
  }

  // ---- the timeline ------------------------------------------------------

  async function loadTimeline() {
    const t0 = performance.now();
    const tl = await api(`/api/workflows/${wfID}/timeline`);
    renderHead(tl.workflow);
    const counts = {};
    for (const b of tl.bars) counts[b.state] = (counts[b.state] || 0) + 1;
    renderSummary(counts, tl.bars.length);
    $('#summary').firstChild.textContent = `${tl.bars.length} nodes ran`;
    const ratio = tl.makespan_ms ? Math.round((100 * tl.critical_ms) / tl.makespan_ms) : 0;
    $('#tl-head').replaceChildren(
      h('div', { class: 'stat' }, h('span', { text: 'Makespan' }), h('b', { id: 'makespan', text: fmtMS(tl.makespan_ms) })),
      h('div', { class: 'stat' }, h('span', { text: 'Critical path' }), h('b', { id: 'critical', text: fmtMS(tl.critical_ms) })),
      h('div', { class: 'stat' }, h('span', { text: 'Critical / makespan' }), h('b', { text: `${ratio}%` })),
      h('div', { class: 'stat wide' }, h('span', { text: `Critical path (${tl.critical.length} nodes)` }),
        h('p', { class: 'chain', text: tl.critical.join(' → ') || '–' })),
    );
    const labelW = 230, rowH = tl.bars.length > 600 ? 6 : 20, top = 28, right = 24;
    const width = Math.max($('#timeline').clientWidth - 2, 720);
    const span = Math.max(tl.makespan_ms, ...tl.bars.map((b) => b.end_ms), 1);
    const scale = (width - labelW - right) / span;
    const height = top + tl.bars.length * rowH + 12;
    const svg = s('svg', { class: 'gantt', width, height, viewBox: `0 0 ${width} ${height}` });
    const axis = s('g', { class: 'axis' });
    const step = niceStep(span / 8);
    for (let t = 0; t <= span; t += step) {
      const x = labelW + t * scale;
      axis.append(s('line', { x1: x, x2: x, y1: top - 6, y2: height }), s('text', { x: x + 3, y: top - 10, text: fmtMS(t) }));
    }
    svg.append(axis);
    const rows = s('g', { class: 'rows' });
    tl.bars.forEach((b, i) => {
      const y = top + i * rowH;
      const g = s('g', { class: `bar ${stClass(b.state)}${b.critical ? ' crit' : ''}${b.running ? ' running' : ''}`, 'data-path': b.path });
      g.append(s('title', { text: `${b.path}\n${b.state} · ${fmtMS(b.end_ms - b.start_ms)}${b.critical ? '\non the critical path' : ''}` }));
      if (rowH >= 12) g.append(s('text', { class: 'label', x: labelW - 8, y: y + rowH - 6, text: short(b.path, 34) }));
      g.append(s('rect', { x: labelW + b.start_ms * scale, y: y + 2, width: Math.max((b.end_ms - b.start_ms) * scale, 2), height: rowH - 4, rx: rowH >= 12 ? 3 : 1 }));
      rows.append(g);
    });
    svg.append(rows);
    const legend = h('p', { class: 'muted legend' }, h('span', { class: 'crit-swatch' }), ' critical path',
      tl.omitted ? ` · ${tl.omitted} shorter bars left out` : '');
    $('#timeline').replaceChildren(svg, legend);
    window.qf.drawn = { timeline: true, bars: tl.bars.length, ms: performance.now() - t0 };
    document.body.dataset.drawn = String(++window.qf.drawSeq);
    if (!final.has(tl.workflow.status)) setTimeout(loadTimeline, Math.max(pollMS * 5, 3000));
  }

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
    return 10 * p;
  }

  // ---- start -------------------------------------------------------------

  if ($('#timeline')) {
    loadTimeline().catch((err) => toast(err.message, 'error'));
    return;
  }
  $('#graph').addEventListener('click', (ev) => {
    const g = ev.target.closest('g.node');
    if (!g) return;
    const m = view.members.get(g.dataset.path);
    if (m && m.kind === null) loadLevel(m.path, true).catch((err) => toast(err.message, 'error'));
    else openPanel(g.dataset.path);
  });
  $('#graph').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && ev.target.closest('g.node')) ev.target.closest('g.node').dispatchEvent(new MouseEvent('click', { bubbles: true }));
  });
  $('#level-path').addEventListener('click', (ev) => {
    const a = ev.target.closest('a[data-group]');
    if (!a) return;
    ev.preventDefault();
    loadLevel(a.dataset.group, true).catch((err) => toast(err.message, 'error'));
  });
  window.addEventListener('popstate', () => {
    loadLevel(new URL(location.href).searchParams.get('group') || '', false).catch((err) => toast(err.message, 'error'));
  });
  loadLevel(view.group, false).catch((err) => toast(err.message, 'error'));
  setInterval(poll, pollMS);
})();
