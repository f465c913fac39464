// Issue 9 in headless Chromium: run many packets, the cost of the walk, the
// connection table; sharing, drafts, presets and the classroom modes are added
// below as they land. Screenshots go to test-results/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { serveDist, launch, openPlayground } from './harness.mjs';

let server, browser;
before(async () => {
  server = await serveDist();
  browser = await launch();
  await mkdir('test-results', { recursive: true });
});
after(async () => { await browser?.close(); await server?.close(); });

test('Run N packets spreads the NodePort over its three endpoints, counts add up to N', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  // The cost of the walk sits beside the fate.
  const cost = page.getByLabel('Cost of the walk');
  assert.match(await cost.textContent(), /^\d+ rules evaluated: PREROUTING \d+ · FORWARD \d+ · POSTROUTING \d+$/);
  const many = page.getByRole('region', { name: 'Many packets' });
  await many.getByRole('textbox', { name: 'Number of packets' }).fill('3000');
  await many.getByRole('button', { name: 'Run N packets' }).click();
  await many.getByText('3000 of 3000 packets').waitFor({ timeout: 30000 });
  const count = async (label) => {
    const items = many.getByRole('list', { name: label }).locator('li');
    const rows = [];
    for (const li of await items.all()) rows.push([await li.getAttribute('data-name'), Number(await li.getAttribute('data-count'))]);
    return rows;
  };
  const fates = await count('Fates');
  assert.deepEqual(fates, [['forwarded', 3000]]);
  const endpoints = await count('Endpoints');
  assert.equal(endpoints.length, 3, JSON.stringify(endpoints));
  assert.equal(endpoints.reduce((a, [, n]) => a + n, 0), 3000);
  for (const [to, n] of endpoints) {
    assert.match(to, /^203\.0\.113\.1[012]:80$/);
    assert.ok(n > 850 && n < 1150, `${to}: ${n} of 3000`);
  }
  assert.match(await many.locator('.never-hit').textContent(), /^\d+ of 36 rules never hit$/);
  // The gutter counts packets per rule, as iptables -L -v does: the
  // KUBE-NODEPORTS rule matched all 3000.
  await page.locator('.cm-gutterElement', { hasText: /^3k$/ }).first().waitFor();
  await page.screenshot({ path: 'test-results/run-n-packets.png' });
  // An edit makes the counts stale: they go, the trace's own counts come back.
  await page.getByRole('textbox', { name: 'Destination port' }).fill('32720');
  await many.getByRole('list', { name: 'Fates' }).waitFor({ state: 'detached' });
  assert.deepEqual(errors, []);
  await context.close();
});

test('a long batch shows progress and can be cancelled', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const many = page.getByRole('region', { name: 'Many packets' });
  await many.getByRole('textbox', { name: 'Number of packets' }).fill('1000000');
  await many.getByRole('button', { name: 'Run N packets' }).click();
  const progress = many.getByRole('progressbar', { name: 'Progress' });
  await progress.waitFor();
  await page.waitForFunction(() => Number(document.querySelector('.batch-pane progress')?.value) > 0);
  // The page stays responsive while the worker runs: the player still plays.
  await page.getByRole('button', { name: 'Step forward' }).click();
  assert.equal(await page.locator('.step-count').textContent().then((t) => t.split('/')[0]), '2');
  await many.getByRole('button', { name: 'Cancel' }).click();
  await many.getByText(/\(cancelled\)$/).waitFor();
  const sent = Number(await progress.getAttribute('value'));
  assert.ok(sent > 0 && sent < 1000000, `${sent}`);
  // Nothing more arrives after the cancel.
  await page.waitForTimeout(500);
  assert.equal(Number(await progress.getAttribute('value')), sent);
  const total = (await many.getByRole('list', { name: 'Fates' }).locator('li').evaluateAll((lis) => lis.map((l) => Number(l.dataset.count)))).reduce((a, b) => a + b, 0);
  assert.equal(total, sent);
  assert.deepEqual(errors, []);
  await context.close();
});

// kube-proxy masquerades NodePort traffic (--random-fully): the reply goes
// back to the node's eth1 address on a random port.
test('the connection table lists the NodePort connection as conntrack -L does', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  await page.getByRole('button', { name: 'Send reply' }).click();
  await page.getByText('Connection tracking (1)').click();
  const table = page.getByLabel('Conntrack table');
  await page.waitForFunction(() => document.querySelector('.conntrack-list')?.textContent.includes('SYN_RECV'));
  assert.match(await table.textContent(), /^tcp {6}6 60 SYN_RECV src=192\.0\.2\.50 dst=198\.51\.100\.1 sport=45678 dport=32719 src=203\.0\.113\.1[012] dst=203\.0\.113\.1 sport=80 dport=\d+ mark=0 use=1$/);
  assert.deepEqual(errors, []);
  await context.close();
});
