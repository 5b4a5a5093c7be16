/**
 * The language client: starts `devassist serve` over stdio, answers `workspace/configuration`
 * from our settings, filters completions by the chosen mode, and reports a failed start once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { SECTION, STATUS_NOTIFICATION, VISIBLE_RANGES_NOTIFICATION } from './constants';
import { completionTargets, configurationFor, readSettings, toServerSettings, type ClientSettings } from './settings';
import { describeStartupFailure, LineTail, type StartupFailure, type StartupProblem } from './startupError';
import { displayCommand, type ServerCommand } from './serverCommand';
import { isServerStatus, type ServerStatus } from './status';
import { stderrLogger } from './serverLog';

/** Reads the `devassist` settings for a resource (or the window). */
export function currentSettings(scope?: vscode.ConfigurationScope): { settings: ClientSettings; warnings: string[] } {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  return readSettings((key) => {
    const info = config.inspect(key);
    // Only values the user set; defaults come from settings.ts so both sides agree.
    return info?.workspaceFolderValue ?? info?.workspaceValue ?? info?.globalValue;
  });
}

/** Callbacks from the client to the rest of the extension. */
export interface ClientEvents {
  onStatus(status: ServerStatus): void;
  onState(state: State): void;
  onStartFailed(problem: StartupProblem): void;
}

/** A started (or failed) client and how it ended, if it did. */
export class ServerSession {
  readonly client: LanguageClient;
  private child?: ChildProcess;
  private readonly stderr = new LineTail(60);
  private spawnError?: { code?: string; message: string };
  private exit?: Promise<number | null>;
  private initialized = false;
  private crashes: number[] = [];

  constructor(
    private readonly command: ServerCommand,
    private readonly output: vscode.LogOutputChannel,
    private readonly events: ClientEvents,
  ) {
    const serverOptions: ServerOptions = () => this.spawnServer();
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: 'file', language: 'python' },
        { scheme: 'untitled', language: 'python' },
      ],
      outputChannel: output,
      // Each stderr line at its own level (the client's default logs every one as an error).
      stdioOptions: {
        stdout: (input, channel) => lines(input, (line) => channel.info(line)),
        stderr: (input, channel) => lines(input, stderrLogger(channel)),
      },
      initializationOptions: toServerSettings(currentSettings().settings),
      initializationFailedHandler: () => false, // reported once by start(), never retried
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => this.onClosed(),
      },
      middleware: {
        workspace: {
          configuration: (params, token, next) => {
            const answers = params.items.map((item) => {
              const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
              return configurationFor(item.section, toServerSettings(currentSettings(scope).settings));
            });
            if (answers.every((a) => a !== undefined)) return answers;
            return Promise.resolve(next(params, token)).then((fallback) =>
              Array.isArray(fallback) ? answers.map((a, i) => (a === undefined ? fallback[i] : a)) : fallback,
            );
          },
        },
        provideInlineCompletionItems: (document, position, context, token, next) =>
          // While the completion list is open its item is the one presentation ('both' mode).
          completionTargets(currentSettings(document).settings, context.selectedCompletionInfo !== undefined).inline
            ? next(document, position, context, token)
            : null,
        provideCompletionItem: (document, position, context, token, next) =>
          completionTargets(currentSettings(document).settings).list ? next(document, position, context, token) : null,
      },
    };
    this.client = new QuietStartClient('devassist', 'devassist', serverOptions, clientOptions);
    this.client.onDidChangeState((e) => events.onState(e.newState));
  }

  /** Start the server; resolves false (after one notification) when it cannot start. */
  async start(): Promise<boolean> {
    try {
      await this.client.start();
    } catch (err) {
      // The server exited (or never spawned) before answering `initialize`.
      const exitCode = this.exit ? await Promise.race([this.exit, delay(2000).then(() => undefined)]) : undefined;
      const failure: StartupFailure = { command: this.command, spawnError: this.spawnError, exitCode, stderr: this.stderr.get() };
      this.output.error(`start failed: ${err instanceof Error ? err.message : String(err)}`);
      this.events.onStartFailed(describeStartupFailure(failure));
      return false;
    }
    this.initialized = true;
    this.client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
      if (isServerStatus(params)) this.events.onStatus(params);
    });
    return true;
  }

  /** Stop the server (and the process, if it does not exit by itself). */
  async stop(): Promise<void> {
    try {
      if (this.client.state !== State.Stopped) await this.client.stop(3000);
    } catch (err) {
      this.output.warn(`stop: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (this.child && this.child.exitCode === null) this.child.kill();
  }

  /** Tell the server which lines of a document are on screen: review scores their functions first. */
  visibleRanges(editor: vscode.TextEditor): void {
    if (!this.client.isRunning() || editor.document.languageId !== 'python') return;
    const ranges = editor.visibleRanges.map((r) => ({ start: { line: r.start.line, character: 0 }, end: { line: r.end.line, character: 0 } }));
    void this.client.sendNotification(VISIBLE_RANGES_NOTIFICATION, { textDocument: { uri: editor.document.uri.toString() }, ranges });
  }

  /** Tell the server the settings changed; it re-reads them (`workspace/configuration`). */
  async settingsChanged(): Promise<void> {
    if (!this.client.isRunning()) return;
    const settings = toServerSettings(currentSettings().settings);
    await this.client.sendNotification('workspace/didChangeConfiguration', { settings: { [SECTION]: settings } });
  }

  /** Spawn the server ourselves so its stderr and exit code can explain a failed start. */
  private spawnServer(): Promise<ChildProcess> {
    this.output.info(`starting: ${displayCommand(this.command)} (from ${this.command.source})`);
    const child = spawn(this.command.command, this.command.args, {
      cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.spawnError = undefined;
    this.exit = new Promise((resolve) => {
      child.on('error', (err: NodeJS.ErrnoException) => {
        this.spawnError = { code: err.code, message: err.message };
        resolve(null);
      });
      child.on('exit', (code) => resolve(code));
    });
    // The client copies stderr to the output channel itself; we keep its tail to explain a failed start.
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => this.stderr.push(chunk));
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve(child));
      child.once('error', (err) => reject(err));
    });
  }

  /** The connection closed: restart a crashed server at most twice in three minutes. */
  private onClosed() {
    if (!this.initialized) return { action: CloseAction.DoNotRestart, handled: true };
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < 180_000), now];
    if (this.crashes.length <= 2) {
      this.output.warn('the server stopped; restarting it');
      return { action: CloseAction.Restart, handled: true };
    }
    const failure: StartupFailure = { command: this.command, exitCode: this.child?.exitCode, stderr: this.stderr.get() };
    this.events.onStartFailed(describeStartupFailure(failure));
    return { action: CloseAction.DoNotRestart, handled: true };
  }
}

/** A LanguageClient whose failed start is reported by us alone (one notification, with the fix). */
class QuietStartClient extends LanguageClient {
  override error(message: string, data?: unknown, showNotification: boolean | 'force' = true): void {
    super.error(message, data, message.includes("couldn't create connection") ? false : showNotification);
  }
}

function lines(input: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', onLine);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
