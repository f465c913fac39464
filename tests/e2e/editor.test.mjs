// The editor slice, as a person uses it: the kube-proxy example loads clean,
// typing a broken rule shows its diagnostic on the right line, fixing it clears it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { serveDist, launch, openPlayground } from './harness.mjs';

let server, browser;
before(async () => { server = await serveDist(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.close(); });

/** Put the caret at `offset` (in UTF-16 units) of the editor's text. */
async function caretAt(editor, offset) {
  await editor.evaluate((el, at) => { el.focus(); el.setSelectionRange(at, at); }, offset);
}

test('a typed mistake is diagnosed on its line and clears when fixed', async () => {
  const { page, errors } = await openPlayground(browser, server.url);
  const editor = page.getByRole('textbox', { name: 'Ruleset' });

  // The source material's NodePort example is there and loads without problems.
  assert.match(await editor.inputValue(), /-A KUBE-NODEPORTS -p tcp .*--dport 32719 -j KUBE-SVC-JKOCBQALQGD3X3RT/);
  await page.getByRole('status').filter({ hasText: 'No problems' }).waitFor();
  assert.equal(await page.getByTestId('summary').textContent(), '3 tables, 33 chains, 36 rules · 0 errors, 0 warnings');

  // Type a rule with a misspelt option just before the nat table's COMMIT.
  const text = await editor.inputValue();
  const at = text.lastIndexOf('\nCOMMIT');
  await caretAt(editor, at);
  await page.keyboard.type('\n-A KUBE-NODEPORTS -p tcp --dprot 30080 -j KUBE-SVC-JKOCBQALQGD3X3RT');
  const brokenLine = text.slice(0, at).split('\n').length + 1;

  const problem = page.getByRole('list', { name: 'Problems' }).getByRole('listitem');
  await problem.first().waitFor();
  assert.equal(await problem.count(), 1);
  assert.equal(await problem.getAttribute('data-line'), String(brokenLine));
  assert.equal(await problem.getAttribute('data-code'), 'E0101');
  const row = await problem.textContent();
  assert.match(row, new RegExp(`^${brokenLine}:26`));
  assert.match(row, /unknown option "--dprot"/);
  assert.match(row, /did you mean "--dport"\?/);
  assert.match(await page.getByTestId('summary').textContent(), /1 error/);

  // Clicking the position selects the broken line in the editor.
  await problem.getByRole('button').click();
  const selected = await editor.evaluate((el) => el.value.slice(el.selectionStart, el.selectionEnd));
  assert.equal(selected, '-A KUBE-NODEPORTS -p tcp --dprot 30080 -j KUBE-SVC-JKOCBQALQGD3X3RT');

  // Fix the spelling: select "--dprot" and type over it.
  const now = await editor.inputValue();
  const bad = now.indexOf('--dprot');
  await editor.evaluate((el, [a, b]) => { el.focus(); el.setSelectionRange(a, b); }, [bad, bad + '--dprot'.length]);
  await page.keyboard.type('--dport');
  await page.getByRole('status').filter({ hasText: 'No problems' }).waitFor();
  assert.equal(await page.getByRole('list', { name: 'Problems' }).count(), 0);

  // The tree now shows the extra rule in KUBE-NODEPORTS.
  const chain = page.locator('details.table[data-table="nat"] details.chain[data-chain="KUBE-NODEPORTS"] summary');
  assert.match(await chain.textContent(), /KUBE-NODEPORTS-3 rules/);

  // Its rules are built when the chain is opened, in iptables-save form.
  const rules = page.locator('details.chain[data-chain="KUBE-NODEPORTS"] ol.rules > li');
  assert.equal(await rules.count(), 0);
  await chain.click();
  await rules.nth(2).waitFor();
  assert.equal(await rules.count(), 3);
  assert.equal(await rules.nth(2).textContent(), `line ${brokenLine}-p tcp -m tcp --dport 30080 -j KUBE-SVC-JKOCBQALQGD3X3RT`);

  await mkdir('test-results', { recursive: true });
  await page.screenshot({ path: 'test-results/editor.png' });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});
