// What drive.mjs checks in the workbench once the server is ready: one function per scenario.
// Each gets `ctx` = { page, shot(name), runCommand(title), step(name, fn), results, config, timeout }
// and records what it saw in `ctx.results`; waits on the page, never on fixed sleeps.

const LINES = '.monaco-editor .view-lines';

/** Put the cursor at `where` ('line' or 'line:column', 1-based) with Go to Line. */
async function goToLine(page, where) {
  await page.keyboard.press('Control+G');
  await page.locator('.quick-input-widget input').waitFor();
  await page.keyboard.type(String(where));
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

/** Once the edit made the active editor dirty, save it (auto save is off in the tests); wait until it is clean. */
async function save(page) {
  await page.locator('.tabs-container .tab.active.dirty').waitFor();
  await page.keyboard.press('Control+S');
  await page.locator('.tabs-container .tab.active.dirty').waitFor({ state: 'detached' });
}

/** Completion, ghost text, the Problems panel and Generate docstring, each with a screenshot. */
export async function checkFeatures({ page, shot, runCommand, step, results, config, timeout }) {
  const editorText = () => page.locator(LINES).first().innerText();

  results.completion = await step('completion from the server', async () => {
    // The cursor where the user stopped typing (Go to Line takes `line:column`), then ask.
    await page.locator(LINES).first().click();
    await goToLine(page, config.completionAt);
    // Ask up to three times: the first list request can lose to the ghost-text request that the
    // cursor move started (the server lets the newer request for a document win), and VS Code
    // then shows "No suggestions". How many tries it took is recorded.
    const rows = page.locator('.suggest-widget .monaco-list-row');
    const empty = page.locator('.suggest-widget .message', { hasText: 'No suggestions' });
    for (let attempt = 1; attempt <= 3; attempt++) {
      await page.keyboard.press('Control+Space');
      await rows.first().or(empty.first()).waitFor();
      if (await rows.count()) {
        const items = await rows.allInnerTexts();
        await shot('completion');
        await page.keyboard.press('Escape');
        return { attempts: attempt, items: items.map((t) => t.trim()).filter(Boolean) };
      }
      await page.keyboard.press('Escape');
      await empty.first().waitFor({ state: 'hidden' });
    }
    await shot('completion');
    throw new Error('the completion list stayed empty ("No suggestions") after 3 requests');
  });

  results.inline = await step('inline completion (ghost text)', async () => {
    // Not fatal: recorded with a screenshot when VS Code shows it.
    await runCommand('Trigger Inline Suggestion');
    const ghost = page.locator('.monaco-editor [class*="ghost-text"]');
    try {
      await ghost.first().waitFor({ timeout: Math.min(timeout, 20000) });
    } catch {
      await shot('inline');
      return { shown: false, html: (await page.locator(LINES).first().innerHTML()).slice(-3000) };
    }
    const text = await ghost.allInnerTexts();
    await shot('inline');
    await page.keyboard.press('Escape');
    return { shown: true, text: text.join('') };
  });

  results.problems = await step('review diagnostic in Problems', async () => {
    if (config.expectReview === false) return null; // the bundle cannot review: nothing to wait for
    await page.keyboard.press('Control+Shift+M');
    const row = page.locator('.markers-panel .monaco-list-row', { hasText: 'devassist' }).first();
    await row.waitFor();
    await shot('problems');
    return page.locator('.markers-panel .monaco-list-row').allInnerTexts();
  });

  results.docstring = await step('generate docstring', async () => {
    const before = await editorText();
    await page.locator(LINES).first().click();
    await goToLine(page, config.defLine);
    await runCommand('devassist: Generate docstring');
    await waitForDocstring(page, before);
    await shot('docstring');
    return { before, after: await editorText() };
  });
}

/** Wait for a docstring in the editor, or fail at once with the text of an error notification. */
async function waitForDocstring(page, before) {
  await page.waitForFunction(
    (prev) => {
      const el = document.querySelector('.monaco-editor .view-lines');
      const toast = document.querySelector('.notifications-toasts')?.textContent ?? '';
      return (el && el.innerText !== prev && /"""|'''/.test(el.innerText)) || toast.includes('Generate docstring failed');
    },
    before,
  );
  const toast = await page.evaluate(() => document.querySelector('.notifications-toasts')?.textContent ?? '');
  if (toast.includes('Generate docstring failed')) throw new Error(toast.trim());
}

/**
 * "Generate docstring" from the palette on a function the model never saw; the file is saved
 * so the test reads back exactly what was inserted (and checks its place and faithfulness).
 */
export async function checkDocstring({ page, shot, runCommand, step, results, config }) {
  results.docstring = await step('generate docstring on an unseen function', async () => {
    const before = await page.locator(LINES).first().innerText();
    await page.locator(LINES).first().click();
    await goToLine(page, config.docstring.at);
    await runCommand('devassist: Generate docstring');
    await waitForDocstring(page, before);
    // A docstring with TODO placeholders arrives as a snippet: leave its tab stops first.
    await page.keyboard.press('Escape');
    await shot('docstring');
    await save(page);
    return { ok: true };
  });
}

/** Whether a lightbulb is drawn in the editor now (content widget or gutter). */
const visibleBulbs = (page) => page.locator('.monaco-editor .lightBulbWidget').filter({ visible: true }).count();

/**
 * A review finding with its quick fix: the squiggle and the Problems entry, no lightbulb (and
 * "No code actions available" for Ctrl+.) on a plain line, the lightbulb on the finding's line,
 * Ctrl+. and the fix chosen from the menu, the file saved, the finding gone; then the Output channel.
 */
export async function checkReviewFix({ page, shot, runCommand, step, results, config }) {
  const { bugAt, plainAt, written, replacement } = config.review;
  results.finding = await step('review finding: squiggle and Problems entry', async () => {
    await page.locator('.monaco-editor .squiggly-warning, .monaco-editor .squiggly-error').first().waitFor();
    await page.keyboard.press('Control+Shift+M');
    await page.locator('.markers-panel .monaco-list-row', { hasText: written }).first().waitFor();
    const rows = await page.locator('.markers-panel .monaco-list-row').allInnerTexts();
    await shot('review-finding');
    return { rows: rows.map((r) => r.trim()) };
  });

  results.plainLine = await step('no lightbulb and no action on a plain line', async () => {
    await page.locator(LINES).first().click();
    await goToLine(page, plainAt);
    // An explicit request: VS Code answers "none" with a message, so the absence is awaited, not assumed.
    await page.keyboard.press('Control+.');
    const none = page.locator('.monaco-editor-overlaymessage', { hasText: 'No code actions available' });
    await none.waitFor();
    const bulbs = await visibleBulbs(page);
    await shot('review-plain-line');
    if (bulbs) throw new Error(`a lightbulb is shown on the plain line ${plainAt}`);
    await page.keyboard.press('Escape');
    return { bulbs, message: (await none.innerText()).trim() };
  });

  results.quickFix = await step('quick fix from Ctrl+. on the finding', async () => {
    await goToLine(page, bugAt);
    await page.locator('.monaco-editor .lightBulbWidget').filter({ visible: true }).first().waitFor();
    await page.keyboard.press('Control+.');
    const fix = page.locator('.action-widget .monaco-list-row', { hasText: `with \`${replacement}\`` }).first();
    await fix.waitFor();
    const menu = (await page.locator('.action-widget .monaco-list-row').allInnerTexts()).map((t) => t.trim());
    await shot('review-quick-fix');
    await fix.click();
    await fix.waitFor({ state: 'detached' });
    await save(page);
    return { menu };
  });

  results.cleared = await step('the finding leaves the Problems panel', async () => {
    await page.locator('.markers-panel .monaco-list-row', { hasText: written }).first().waitFor({ state: 'detached' });
    await shot('review-fixed');
    return { rows: (await page.locator('.markers-panel .monaco-list-row').allInnerTexts()).map((r) => r.trim()) };
  });

  results.output = await step('the devassist Output channel of this session', async () => {
    await runCommand('devassist: Show server output');
    const lines = page.locator('.output-view .view-lines .view-line');
    await page.locator('.output-view .view-lines', { hasText: '[info]' }).first().waitFor();
    await shot('output-channel');
    return { visible: (await lines.allInnerTexts()).map((t) => t.replace(/\u00a0/g, ' ')) };
  });
}

/** In the page: the text of the line with the cursor (the editor draws spaces as no-break spaces). */
function lineAtCursor() {
  const current = document.querySelector('.monaco-editor .view-overlays .current-line');
  const top = current ? current.parentElement.style.top : null;
  const line = [...document.querySelectorAll('.monaco-editor .view-lines .view-line')].find((l) => l.style.top === top);
  if (!line) return null;
  const copy = line.cloneNode(true); // without the ghost text drawn inside the line
  copy.querySelectorAll('[class*="ghost-text"]').forEach((e) => e.remove());
  return copy.textContent.replace(/\u00a0/g, ' ');
}

/**
 * In the page: the ghost text as one string. The part on the cursor's line is drawn as several
 * `ghost-text-decoration` spans (one per token colour); further lines as `.ghost-text` blocks.
 */
function ghostTextShown() {
  const text = (e) => e.textContent.replace(/\u00a0/g, ' ');
  const inline = [...document.querySelectorAll('.monaco-editor [class*="ghost-text-decoration"]')].map(text).join('');
  const below = [...document.querySelectorAll('.monaco-editor .ghost-text .view-line')].map(text);
  return [inline, ...below].join('\n');
}

/**
 * What a person sees while typing: a new line under `typing.line`, half a word typed key by key,
 * the ghost text awaited (its delay after the last keystroke recorded), then Tab.
 */
export async function checkTyping({ page, shot, step, results, config }) {
  const { line, word } = config.typing;
  const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
  await step('new line under the statement', async () => {
    await page.locator('.monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+G');
    await page.locator('.quick-input-widget input').waitFor();
    await page.keyboard.type(String(line));
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
  });
  results.typing = await step('ghost text after a half-typed word', async () => {
    // About 10 keys a second. `type` with a delay holds each key down that long after its
    // character went in, so the last key is pressed on its own: the clock starts as it goes down.
    await page.keyboard.type(word.slice(0, -1), { delay: 100 });
    const lastKey = Date.now();
    await page.keyboard.press(word.slice(-1));
    const typedLine = await page.evaluate(lineAtCursor);
    await ghost.first().waitFor();
    await page.waitForFunction(() =>
      [...document.querySelectorAll('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text')].some((e) => e.textContent.trim()),
    );
    const shownAt = Date.now();
    const shown = await page.evaluate(ghostTextShown);
    await shot('typing-ghost-text');
    // Wall-clock times (ms since the epoch) to line up with the Output channel's LSP trace.
    return { typedLine, ghostMs: shownAt - lastKey, shown, lastKeyAt: lastKey, shownAt };
  });
  results.accepted = await step('Tab accepts the ghost text', async () => {
    await page.keyboard.press('Tab');
    // The line grows by the accepted text (without ghost text, which the editor draws apart).
    await page.waitForFunction(`(${lineAtCursor.toString()})() !== ${JSON.stringify(results.typing.typedLine)}`);
    const lineAfter = await page.evaluate(lineAtCursor);
    await shot('typing-accepted');
    return { lineAfter };
  });
}

/**
 * "Synthesize test data from this file" on a CSV: the rows asked for in the input box, the
 * progress notification, then the "wrote" notification (training takes a while: `synth.waitMs`).
 */
export async function checkSynth({ page, shot, step, results, config }) {
  const { file, rows, waitMs } = config.synth;
  results.synth = await step('synthesize test data from a CSV', async () => {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.fill(file);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: file }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tabs-container .tab.active', { hasText: file }).waitFor();
    // The command asks for a row count in a second quick input, so its first one is not awaited closed.
    await page.keyboard.press('F1');
    await input.fill('>devassist: Synthesize test data');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Synthesize test data' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget', { hasText: 'Rows to generate' }).waitFor();
    await input.fill(String(rows));
    await shot('synth-rows');
    await page.keyboard.press('Enter');
    const toasts = page.locator('.notifications-toasts .notification-toast');
    await toasts.filter({ hasText: 'synthesizing' }).first().waitFor();
    await shot('synth-progress');
    const done = toasts.filter({ hasText: /devassist: wrote|failed/ }).first();
    await done.waitFor({ timeout: waitMs });
    const text = (await toasts.allInnerTexts()).map((t) => t.trim());
    await shot('synth-done');
    if (text.some((t) => t.includes('failed'))) throw new Error(text.join(' | '));
    return { toasts: text };
  });
}
