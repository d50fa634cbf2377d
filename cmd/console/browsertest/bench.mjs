// The console's speed in headless Chromium, run by cmd/console's
// BenchmarkBrowser. Prints "metric: NAME VALUE" lines (medians, ms).
import { launch, check, login, waitDrawn, median } from './lib.mjs';

const env = process.env;
const base = env.QF_BASE;
const runs = Number(env.QF_BENCH_RUNS || 7);
const { page, close } = await launch();

function metric(name, xs) {
  console.log(`all ${name}: ${xs.map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`metric: ${name} ${median(xs).toFixed(1)}`);
}

try {
  await login(page, base, env.QF_OPERATOR);

  // The list with 100 000 workflows: navigation start to the load event.
  const list = [];
  for (let i = 0; i <= runs; i++) {
    await page.goto(`${base}/`, { waitUntil: 'load' });
    const nav = await page.evaluate(() => performance.getEntriesByType('navigation')[0].toJSON());
    const rows = await page.$$eval('#workflows tbody tr[data-id]', (r) => r.length);
    check(rows === 50, `a page of 50 rows (got ${rows})`);
    if (i > 0) list.push(nav.loadEventEnd - nav.startTime); // the first load warms caches
  }
  metric('list-ms', list);
  // A filtered page deep in the list.
  const deep = [];
  for (let i = 0; i <= runs; i++) {
    await page.goto(`${base}/?status=cancelled&name=nightly-etl`, { waitUntil: 'load' });
    const next = await page.getAttribute('#next-page', 'href');
    await page.goto(`${base}${next}`, { waitUntil: 'load' });
    const nav = await page.evaluate(() => performance.getEntriesByType('navigation')[0].toJSON());
    if (i > 0) deep.push(nav.loadEventEnd - nav.startTime);
  }
  metric('list-filtered-page2-ms', deep);

  // The 10 000-leaf workflow, groups collapsed: navigation start to drawn.
  const graph = [];
  for (let i = 0; i <= runs; i++) {
    await page.goto(`${base}/workflows/${env.QF_BIG}`);
    const d = await waitDrawn(page);
    check(d.members === 10, `10 top-level groups (got ${d.members})`);
    if (i > 0) graph.push(d.at);
  }
  metric('graph-10k-ms', graph);

  // Expanding groups: from the click to the level drawn.
  async function expand(path, members) {
    const before = Number(await page.evaluate(() => document.body.dataset.drawn));
    const t0 = await page.evaluate(() => performance.now());
    await page.click(`#graph g.node[data-path="${path}"]`);
    const d = await waitDrawn(page, before);
    check(d.members === members, `${path}: ${members} members (got ${d.members})`);
    return d.at - t0;
  }
  const g10 = [], g100 = [];
  for (let i = 0; i <= runs; i++) {
    await page.goto(`${base}/workflows/${env.QF_BIG}`);
    await waitDrawn(page);
    const a = await expand('region-3', 10);
    const b = await expand('region-3/shard-4', 100);
    if (i > 0) { g10.push(a); g100.push(b); }
  }
  metric('expand-10-ms', g10);
  metric('expand-100-ms', g100);

  const g1000 = [];
  for (let i = 0; i <= runs; i++) {
    await page.goto(`${base}/workflows/${env.QF_WIDE}`);
    await waitDrawn(page);
    const a = await expand('fan', 1000);
    if (i > 0) g1000.push(a);
  }
  metric('expand-1000-ms', g1000);
  await page.screenshot({ path: '/tmp/qf-bench-wide.png' });
  await close();
} catch (err) {
  console.log(`FAIL: ${err.stack || err}`);
  await close();
  process.exit(1);
}
