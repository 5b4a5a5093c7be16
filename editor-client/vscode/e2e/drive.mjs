// End-to-end check of the packaged extension in the real VS Code workbench (code-server),
// driven by Playwright with the system Chromium. Run by tests/e2e/test_vscode.py:
//   node drive.mjs CONFIG.json
// CONFIG: { codeServer, vsix, workspace, file, defLine, completionAt ('line:column'), settings, outDir,
//          chromium, playwrightFrom, timeoutMs, expectStartFailure, logLevel,
//          typing: { line, word } (then only the typing check runs: half a word typed on a new
//          line under `line`, the ghost text awaited and accepted with Tab) }
// Writes OUTDIR/results.json and one screenshot per check. Waits on the page, never on fixed sleeps.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(config.playwrightFrom ?? process.cwd(), 'package.json'));
const { chromium } = require('playwright-core');
const timeout = config.timeoutMs ?? 60000;
const out = config.outDir;
fs.mkdirSync(out, { recursive: true });
const results = { steps: [], screenshots: {} };
const save = () => fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(results, null, 1));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    const value = await fn();
    results.steps.push({ name, ok: true, ms: Date.now() - t0 });
    return value;
  } catch (err) {
    results.steps.push({ name, ok: false, ms: Date.now() - t0, error: String(err?.stack ?? err) });
    throw err;
  }
}

const home = path.join(out, 'code-server');
const userData = path.join(home, 'user-data');
const extensions = path.join(home, 'extensions');
// code-server is a remote window: machine-scoped settings (the server command, bundle) are read
// from the remote machine's settings (Machine/), the rest from the user's (User/).
for (const dir of ['User', 'Machine']) {
  fs.mkdirSync(path.join(userData, dir), { recursive: true });
  fs.writeFileSync(path.join(userData, dir, 'settings.json'), JSON.stringify(config.settings, null, 1));
}

let server;
let browser;
let page;
try {
  await step('install extension', () => {
    const log = execFileSync(config.codeServer, ['--extensions-dir', extensions, '--user-data-dir', userData, '--install-extension', config.vsix], {
      encoding: 'utf8',
      env: process.env,
      timeout: 120000,
    });
    results.installLog = log.trim().split('\n').slice(-3);
  });

  const port = await freePort();
  await step('start code-server', async () => {
    server = spawn(
      config.codeServer,
      ['--auth', 'none', '--log', config.logLevel ?? 'info', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
        '--user-data-dir', userData, '--extensions-dir', extensions, config.workspace],
      { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const logFile = fs.createWriteStream(path.join(out, 'code-server.log'));
    server.stdout.pipe(logFile);
    server.stderr.pipe(logFile);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('code-server did not print its address')), timeout);
      const onData = (chunk) => {
        if (String(chunk).includes('HTTP server listening')) {
          clearTimeout(timer);
          resolve();
        }
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      server.on('exit', (code) => reject(new Error(`code-server exited with ${code}`)));
    });
  });

  browser = await chromium.launch({
    executablePath: config.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(timeout);
  const shot = async (name) => {
    const file = path.join(out, `${name}.png`);
    await page.screenshot({ path: file });
    results.screenshots[name] = file;
  };
  const runCommand = async (title) => {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  };

  await step('open workbench', async () => {
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(config.workspace)}`);
    await page.locator('.monaco-workbench').waitFor();
  });

  await step('open python file', async () => {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill(path.basename(config.file));
    await page.locator('.quick-input-list .monaco-list-row', { hasText: path.basename(config.file) }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.monaco-editor .view-lines').first().waitFor();
  });

  results.status = await step('server ready in the status bar', async () => {
    const item = page.locator('.statusbar-item', { hasText: 'devassist' }).first();
    await item.waitFor();
    // Ready: a check mark and the model name; a failed start: the error icon (and one notification).
    await page.waitForFunction(() => {
      const el = [...document.querySelectorAll('.statusbar-item')].find((e) => e.textContent.includes('devassist'));
      return el && (el.querySelector('.codicon-check') || el.querySelector('.codicon-error'));
    });
    const text = (await item.innerText()).trim();
    if (await item.locator('.codicon-error').count()) {
      const toasts = page.locator('.notifications-toasts .notification-toast');
      await toasts.first().waitFor();
      // Let the toast finish fading in, so the screenshot shows it.
      await page.waitForFunction(() => {
        const toast = document.querySelector('.notifications-toasts .notification-toast');
        return toast && getComputedStyle(toast).opacity === '1';
      });
      results.startFailure = { toasts: (await toasts.allInnerTexts()).map((t) => t.trim()) };
      await shot('start-failed');
      if (!config.expectStartFailure) throw new Error(`start failed: ${results.startFailure.toasts.join(' | ')}`);
    }
    return text;
  });

  if (config.expectStartFailure) {
    if (!results.startFailure) throw new Error(`the server started, but a failed start was expected (status: ${results.status})`);
  } else if (config.typing) {
    await checkTyping(page, shot);
  } else {
    await checkFeatures(page, shot, runCommand);
  }
  results.ok = true;
} catch (err) {
  results.ok = false;
  results.error = String(err?.message ?? err);
  if (page) {
    const file = path.join(out, 'failure.png');
    await page.screenshot({ path: file }).catch(() => {});
    results.screenshots.failure = file;
  }
} finally {
  save();
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        server.kill('SIGKILL');
        resolve();
      }, 5000);
      server.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
process.exit(results.ok ? 0 : 1);

/** Completion, ghost text, the Problems panel and Generate docstring, each with a screenshot. */
async function checkFeatures(page, shot, runCommand) {
  const editorText = () => page.locator('.monaco-editor .view-lines').first().innerText();
  const goToLine = async (line) => {
    await page.keyboard.press('Control+G');
    await page.locator('.quick-input-widget input').waitFor();
    await page.keyboard.type(String(line));
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  };

  results.completion = await step('completion from the server', async () => {
    // The cursor where the user stopped typing (Go to Line takes `line:column`), then ask.
    await page.locator('.monaco-editor .view-lines').first().click();
    await goToLine(config.completionAt);
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
      return { shown: false, html: (await page.locator('.monaco-editor .view-lines').first().innerHTML()).slice(-3000) };
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
    await page.locator('.monaco-editor .view-lines').first().click();
    await goToLine(config.defLine);
    await runCommand('devassist: Generate docstring');
    // The edit, or an error notification (then fail at once, with its text).
    await page.waitForFunction(
      (prev) => {
        const el = document.querySelector('.monaco-editor .view-lines');
        const toast = document.querySelector('.notifications-toasts')?.textContent ?? '';
        return (el && el.innerText !== prev && /"""|'''/.test(el.innerText)) || toast.includes('Generate docstring failed');
      },
      before,
    );
    await shot('docstring');
    const toast = await page.evaluate(() => document.querySelector('.notifications-toasts')?.textContent ?? '');
    if (toast.includes('Generate docstring failed')) throw new Error(toast.trim());
    return { before, after: await editorText() };
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
async function checkTyping(page, shot) {
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
    // Typed at about 10 keys a second; the clock starts at the last key.
    await page.keyboard.type(word, { delay: 100 });
    const lastKey = Date.now();
    const typedLine = await page.evaluate(lineAtCursor);
    await ghost.first().waitFor();
    await page.waitForFunction(() =>
      [...document.querySelectorAll('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text')].some((e) => e.textContent.trim()),
    );
    const ghostMs = Date.now() - lastKey;
    const shown = await page.evaluate(ghostTextShown);
    await shot('typing-ghost-text');
    return { typedLine, ghostMs, shown };
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
