/** Wires the extension together: settings, the server session, commands and the status bar. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import { State } from 'vscode-languageclient/node';
import { generateDocstring, learnWorkspace, synthesizeTestData } from './commands';
import { Commands, RESTART_SETTINGS, SECTION } from './constants';
import { currentSettings, ServerSession } from './client';
import { resolveServerCommand, whichOn, type Environment } from './serverCommand';
import { describeStartupFailure, type FixAction, type StartupProblem } from './startupError';
import { statusView, type ClientPhase, type ServerStatus } from './status';

let session: ServerSession | undefined;
let output: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;
let phase: ClientPhase = 'stopped';
let lastStatus: ServerStatus | undefined;

/** Called by VS Code when a Python file opens. */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('devassist', { log: true });
  statusItem = vscode.window.createStatusBarItem('devassist.status', vscode.StatusBarAlignment.Right, 100);
  statusItem.name = 'devassist';
  statusItem.command = Commands.showOutput;
  context.subscriptions.push(output, statusItem);

  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.generateDocstring, () => generateDocstring(session?.client)),
    vscode.commands.registerCommand(Commands.synthesizeTestData, (uri?: vscode.Uri) =>
      synthesizeTestData(session?.client, currentSettings().settings.synth.rows, uri),
    ),
    vscode.commands.registerCommand(Commands.learnWorkspace, (uri?: vscode.Uri) => learnWorkspace(session?.client, uri)),
    vscode.commands.registerCommand(Commands.restartServer, () => restart()),
    vscode.commands.registerCommand(Commands.showOutput, () => output.show()),
    vscode.window.onDidChangeTextEditorVisibleRanges((e) => session?.visibleRanges(e.textEditor)),
    vscode.window.onDidChangeActiveTextEditor((editor) => editor && session?.visibleRanges(editor)),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      for (const w of currentSettings().warnings) output.warn(w);
      if (RESTART_SETTINGS.some((key) => e.affectsConfiguration(`${SECTION}.${key}`))) await restart();
      else await session?.settingsChanged();
    }),
  );
  await start();
}

/** Called by VS Code on shutdown. */
export async function deactivate(): Promise<void> {
  await session?.stop();
  session = undefined;
}

/** Start the server for the current settings; one notification if it cannot. */
async function start(): Promise<void> {
  const { settings, warnings } = currentSettings();
  for (const w of warnings) output.warn(w);
  if (warnings.length) void vscode.window.showWarningMessage(`devassist: ${warnings[0]}${warnings.length > 1 ? ` (and ${warnings.length - 1} more)` : ''}`);
  const command = resolveServerCommand(settings.server, machineEnvironment());
  if (!command) {
    setPhase('failed');
    notify(describeStartupFailure({ stderr: [] }));
    return;
  }
  setPhase('starting');
  session = new ServerSession(command, output, {
    onStatus: (s) => {
      lastStatus = s;
      render();
    },
    onState: (state) => setPhase(state === State.Running ? 'running' : state === State.Starting ? 'starting' : 'stopped'),
    onStartFailed: (problem) => {
      setPhase('failed');
      notify(problem);
    },
  });
  if (!(await session.start())) setPhase('failed');
  else if (vscode.window.activeTextEditor) session.visibleRanges(vscode.window.activeTextEditor);
}

/** Stop and start again (the Restart command, and server setting changes). */
async function restart(): Promise<void> {
  const old = session;
  session = undefined;
  await old?.stop();
  lastStatus = undefined;
  await start();
}

function machineEnvironment(): Environment {
  const isExecutable = (file: string) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  return {
    home: os.homedir(),
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    env: process.env,
    platform: process.platform,
    which: whichOn(process.env.PATH, process.platform, isExecutable, process.env.PATHEXT),
  };
}

function setPhase(next: ClientPhase): void {
  // A failed start stays failed until the next start, whatever the client's state says.
  if (phase === 'failed' && next === 'stopped') return;
  phase = next;
  render();
}

function render(): void {
  const view = statusView(phase, lastStatus);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor =
    view.level === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : view.level === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  statusItem.show();
}

const ACTION_LABELS: Record<FixAction, string> = { openSettings: 'Open Settings', showOutput: 'Show Output', restart: 'Restart Server' };

/** The one notification for a failed start, with buttons for its fixes. */
function notify(problem: StartupProblem): void {
  output.error(problem.message);
  void vscode.window.showErrorMessage(problem.message, ...problem.actions.map((a) => ACTION_LABELS[a])).then((choice) => {
    if (choice === ACTION_LABELS.openSettings) void vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.server`);
    else if (choice === ACTION_LABELS.showOutput) output.show();
    else if (choice === ACTION_LABELS.restart) void restart();
  });
}
