// The console's browser test, run by cmd/console's TestBrowser against a
// console it started on a test database with an in-process worker. Each
// step prints "ok: ..."; the first failure exits 1 (with a screenshot).
//
// Environment: QF_BASE (the console), QF_CONTROL (the test's gate
// control), QF_OPERATOR / QF_VIEWER (tokens), QF_RUNNING, QF_CANCEL,
// QF_FAILED (workflow ids), QF_EXPECT (the running workflow's node counts
// by state, from flow's Status), QF_EXPECT_TOP (its top-level node
// states), QF_SHOTS (where screenshots go).
import { launch, check, log, login, logout, waitDrawn } from './lib.mjs';
import path from 'node:path';

const env = process.env;
const base = env.QF_BASE;
const shots = env.QF_SHOTS;
const { page, close } = await launch();

async function main() {
  // 1. The list, as a viewer.
  await login(page, base, env.QF_VIEWER);
  await page.waitForSelector('#workflows');
  const rows = await page.$$eval('#workflows tbody tr[data-id]', (trs) => trs.map((tr) => ({ id: tr.dataset.id, status: tr.dataset.status })));
  check(rows.length >= 4, `the list shows the workflows (got ${rows.length})`);
  check(rows.some((r) => r.id === env.QF_RUNNING && r.status === 'running'), 'the running workflow is listed as running');
  check((await page.textContent('header .role')).trim() === 'viewer', 'the header says viewer');
  log(`list shows ${rows.length} workflows`);

  // 2. Open the running workflow from the list.
  await page.click(`#workflows tr[data-id="${env.QF_RUNNING}"] td.name a`);
  await waitDrawn(page);
  check((await page.textContent('#wf-status')).trim() === 'running', 'the workflow page says running');
  log('opened the running workflow');

  // 3. Count nodes by state against flow's Status (enqueue status -o json).
  const expect = JSON.parse(env.QF_EXPECT);
  const chips = await page.$$eval('#summary .chip', (cs) => Object.fromEntries(cs.map((c) => [c.dataset.state, Number(c.dataset.count)])));
  for (const [st, n] of Object.entries(expect)) check(chips[st] === n, `summary ${st}: page ${chips[st]}, status ${n}`);
  for (const [st, n] of Object.entries(chips)) check((expect[st] || 0) === n, `summary ${st}: page ${n}, status ${expect[st] || 0}`);
  const top = JSON.parse(env.QF_EXPECT_TOP);
  const drawn = await page.$$eval('#graph g.node', (gs) => Object.fromEntries(gs.map((g) => [g.dataset.path, g.dataset.state])));
  check(JSON.stringify(Object.keys(drawn).sort()) === JSON.stringify(Object.keys(top).sort()), `top-level nodes: ${Object.keys(drawn)}`);
  for (const [p, st] of Object.entries(top)) check(drawn[p] === st, `node ${p}: page ${drawn[p]}, status ${st}`);
  log(`counts by state match Status: ${JSON.stringify(expect)}`);

  // 4. A viewer's cancel is refused, and the workflow keeps running.
  await page.click('#cancel-btn');
  await page.waitForFunction(() => document.body.dataset.lastRefusal === '403');
  check((await page.textContent('#toast')).includes('operator'), 'the refusal says an operator is needed');
  check((await page.textContent('#wf-status')).trim() === 'running', 'still running after the refused cancel');
  log('a viewer is refused (403)');

  // 5. Expand a group.
  const before = Number(await page.evaluate(() => document.body.dataset.drawn));
  await page.click('#graph g.node[data-path="batch"]');
  const lv = await waitDrawn(page, before);
  check(lv.group === 'batch', `expanded batch (drew ${lv.group})`);
  const members = await page.$$eval('#graph g.node', (gs) => gs.map((g) => g.dataset.path).sort());
  check(JSON.stringify(members) === JSON.stringify(['batch/slow', 'batch/x1', 'batch/x2', 'batch/x3']), `batch's members: ${members}`);
  check((await page.textContent('#level-path')).includes('batch'), 'the level path names batch');
  log('expanded the group batch');

  // 6. A node's panel.
  await page.click('#graph g.node[data-path="batch/x1"]');
  await page.waitForSelector('#panel:not([hidden])[data-path="batch/x1"]');
  const panel = await page.textContent('#panel');
  check(panel.includes('echo') && panel.includes('"x": 1'), 'the panel shows the kind and the args');
  check((await page.textContent('#panel-state')).trim() === 'completed', 'the panel shows the state');
  check(/Output/i.test(panel) && /Attempts/i.test(panel), 'the panel has output and attempts');
  const jobHref = await page.getAttribute('#panel a[href^="/river/jobs/"]', 'href');
  check(/^\/river\/jobs\/\d+$/.test(jobHref || ''), `the River job links to River UI (${jobHref})`);
  log(`node panel of batch/x1, job ${jobHref}`);

  // 7. Back to the top level by the level path; watch solo turn
  // completed without a reload.
  const b2 = Number(await page.evaluate(() => document.body.dataset.drawn));
  await page.click('#level-path a[data-group=""]');
  const topAgain = await waitDrawn(page, b2);
  check(topAgain.group === '', 'back at the top level');
  await page.evaluate(() => { window.__sameDocument = true; });
  check((await page.getAttribute('#graph g.node[data-path="solo"]', 'data-state')) === 'running', 'solo is running');
  const res = await fetch(`${env.QF_CONTROL}/open?gate=solo`, { method: 'POST' });
  check(res.ok, 'the test opened the gate');
  await page.waitForSelector('#graph g.node[data-path="solo"][data-state="completed"]', { timeout: 90000 });
  check(await page.evaluate(() => window.__sameDocument === true), 'the page was not reloaded');
  log('solo turned completed live');

  // 8. The River job link opens River UI (behind the console's sign-in).
  await page.click('#graph g.node[data-path="prep"]');
  await page.waitForSelector('#panel:not([hidden])[data-path="prep"]');
  const prepJob = await page.getAttribute('#panel a[href^="/river/jobs/"]', 'href');
  await page.click('#panel a[href^="/river/jobs/"]');
  await page.waitForSelector(`text=ID: ${prepJob.split('/').pop()}`);
  check((await page.textContent('body')).includes('echo'), 'River UI shows the job of kind echo');
  log(`River UI shows ${prepJob}`);
  await page.goto(`${base}/`);

  // 9. An operator cancels a workflow.
  await logout(page);
  await login(page, base, env.QF_OPERATOR);
  await page.goto(`${base}/workflows/${env.QF_CANCEL}`);
  await waitDrawn(page);
  check((await page.textContent('header .role')).trim() === 'operator', 'the header says operator');
  await page.click('#cancel-btn');
  await page.waitForFunction(() => document.querySelector('#wf-status').textContent.trim() === 'cancelled', null, { timeout: 60000 });
  check((await page.textContent('#toast')).startsWith('Cancelled'), 'the toast says cancelled');
  log('an operator cancelled a workflow');

  // 10. Screenshots: the list, a workflow with a failed branch, the timeline.
  await page.setViewportSize({ width: 1440, height: 560 });
  await page.goto(`${base}/`);
  await page.waitForSelector('#workflows');
  await page.screenshot({ path: path.join(shots, 'console-list.png') });
  await page.setViewportSize({ width: 1600, height: 860 });
  await page.goto(`${base}/workflows/${env.QF_FAILED}`);
  await waitDrawn(page);
  await page.click('#graph g.node[data-path="load-warehouse"]');
  await page.waitForSelector('#panel:not([hidden])[data-path="load-warehouse"]');
  await page.screenshot({ path: path.join(shots, 'console-workflow-failed.png') });
  await page.setViewportSize({ width: 1440, height: 720 });
  await page.goto(`${base}/workflows/${env.QF_FAILED}/timeline`);
  await waitDrawn(page);
  check(Number((await page.$$('svg.gantt .bar.crit')).length) > 0, 'the timeline highlights the critical path');
  await page.screenshot({ path: path.join(shots, 'console-timeline.png') });
  log(`screenshots in ${shots}`);

  // 11. The operator retries the cancelled workflow (mode all).
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${base}/workflows/${env.QF_CANCEL}`);
  await waitDrawn(page);
  check(await page.isVisible('#retry-btn'), 'retry is offered on a cancelled workflow');
  await page.selectOption('#retry-mode', 'all');
  await page.click('#retry-btn');
  await page.waitForFunction(() => ['pending', 'running'].includes(document.querySelector('#wf-status').textContent.trim()), null, { timeout: 60000 });
  check((await page.textContent('#toast')).startsWith('Retrying (all)'), 'the toast says retrying');
  log('an operator retried the cancelled workflow');
}

try {
  await main();
  await close();
} catch (err) {
  console.log(`FAIL: ${err.stack || err}`);
  try { await page.screenshot({ path: path.join(shots, 'failure.png') }); console.log(`screenshot: ${path.join(shots, 'failure.png')}`); } catch (_) { /* closed */ }
  await close();
  process.exit(1);
}
