// The trace pane, as a person uses it: trace the example's NodePort SYN, see its
// fate and the three endpoints' odds, jump from a rule step to its line, and get
// a readable message for a malformed packet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { serveDist, launch, openPlayground } from './harness.mjs';

let server, browser;
before(async () => { server = await serveDist(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.close(); });

test('the NodePort SYN is traced step by step, with its endpoints and odds', async () => {
  const { page, errors } = await openPlayground(browser, server.url);
  const pane = page.getByRole('region', { name: 'Packet trace' });
  await pane.getByRole('button', { name: 'Trace' }).click();

  const fate = pane.getByTestId('fate');
  await fate.waitFor();
  assert.match(await fate.textContent(), /^forwarded via eth1, leaves as 203\.0\.113\.1:\d+ -> 203\.0\.113\.1[012]:80 tcp$/);

  const outcomes = pane.getByRole('list', { name: 'Outcomes' }).getByRole('listitem');
  assert.deepEqual(await outcomes.allTextContents(),
    ['33.3%203.0.113.10:80', '33.3%203.0.113.11:80', '33.3%203.0.113.12:80']);

  // The walk of the source material: KUBE-SERVICES -> KUBE-NODEPORTS -> KUBE-SVC -> KUBE-SEP DNAT.
  const steps = pane.getByRole('list', { name: 'Trace' }).getByRole('listitem');
  const matched = await pane.locator('ol.trace li.step.rule.matched').allTextContents();
  const chains = matched.map((t) => t.match(/^\S+\s+(\S+) rule/)[1]);
  assert.deepEqual(chains.slice(0, 5), ['nat/PREROUTING', 'nat/KUBE-SERVICES', 'nat/KUBE-NODEPORTS', 'nat/KUBE-MARK-MASQ', 'nat/KUBE-NODEPORTS']);
  assert.ok(chains.includes('nat/KUBE-SVC-JKOCBQALQGD3X3RT'));
  assert.ok(chains.some((c) => c.startsWith('nat/KUBE-SEP-')));
  assert.ok(await steps.count() > matched.length, 'unmatched rules and routing steps are listed too');

  // A rule step shows its rule in the editor.
  const step = pane.locator('ol.trace li.step.rule.matched', { hasText: 'nat/KUBE-NODEPORTS rule 2' });
  await step.getByRole('button').click();
  const editor = page.getByRole('textbox', { name: 'Ruleset' });
  const selected = await editor.evaluate((el) => el.value.slice(el.selectionStart, el.selectionEnd));
  assert.equal(selected, '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/nginx-demo-1:" -m tcp --dport 32719 -j KUBE-SVC-JKOCBQALQGD3X3RT');

  await mkdir('test-results', { recursive: true });
  await page.screenshot({ path: 'test-results/trace.png' });

  // Another port is not a NodePort: the packet is delivered to the node itself.
  const port = pane.getByRole('textbox', { name: 'Destination port' });
  await port.fill('22');
  await pane.getByRole('button', { name: 'Trace' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid="fate"]')?.textContent.startsWith('delivered-local'));
  assert.equal(await pane.getByRole('list', { name: 'Outcomes' }).count(), 0);

  // A malformed address is reported, not traced.
  await pane.getByRole('textbox', { name: 'Destination', exact: true }).fill('198.51.100');
  await pane.getByRole('button', { name: 'Trace' }).click();
  const alert = pane.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /dst: `198\.51\.100' is not an IPv4 address/);
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});
