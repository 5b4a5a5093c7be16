/** The palette commands that talk to the server: Generate docstring, Synthesize test data, Learn this workspace. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ExecuteCommandRequest, type LanguageClient } from 'vscode-languageclient/node';
import { ServerCommands } from './constants';
import { docstringArguments, synthArguments } from './args';

/** Ask the server for a docstring at the cursor; the server applies the edit (`workspace/applyEdit`). */
export async function generateDocstring(client: LanguageClient | undefined, editor = vscode.window.activeTextEditor): Promise<void> {
  if (!client?.isRunning()) {
    void vscode.window.showWarningMessage('devassist: the server is not running. Run "devassist: Restart server".');
    return;
  }
  if (!editor || editor.document.languageId !== 'python') {
    void vscode.window.showInformationMessage('devassist: open a Python file and put the cursor in a function.');
    return;
  }
  const pos = editor.selection.active;
  try {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'devassist: generating docstring' }, () =>
      client.sendRequest(ExecuteCommandRequest.type, {
        command: ServerCommands.generateDocstring,
        arguments: docstringArguments(editor.document.uri.toString(), pos.line, pos.character),
      }),
    );
  } catch (err) {
    void vscode.window.showErrorMessage(`devassist: Generate docstring failed: ${errorText(err)}`);
  }
}

/** Learn the current CSV/JSON file and write synthetic rows next to it (done by the server). */
export async function synthesizeTestData(client: LanguageClient | undefined, defaultRows: number, resource?: vscode.Uri): Promise<void> {
  if (!client?.isRunning()) {
    void vscode.window.showWarningMessage('devassist: the server is not running. Run "devassist: Restart server".');
    return;
  }
  const uri = resource instanceof vscode.Uri ? resource : vscode.window.activeTextEditor?.document.uri;
  if (!uri || !['.csv', '.json'].includes(path.extname(uri.path).toLowerCase())) {
    void vscode.window.showInformationMessage('devassist: open a .csv or .json file to synthesize test data from it.');
    return;
  }
  const answer = await vscode.window.showInputBox({
    title: 'Synthesize test data',
    prompt: `Rows to generate from ${path.basename(uri.path)}`,
    value: String(defaultRows),
    validateInput: (v) => (synthArguments(uri.toString(), v) ? undefined : 'A whole number from 1 to 1000000'),
  });
  if (answer === undefined) return;
  const args = synthArguments(uri.toString(), answer);
  if (!args) return;
  let result: unknown;
  try {
    result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `devassist: synthesizing ${args[1]} rows`, cancellable: false },
      () => client.sendRequest(ExecuteCommandRequest.type, { command: ServerCommands.synthesizeTestData, arguments: args }),
    );
  } catch (err) {
    void vscode.window.showErrorMessage(`devassist: Synthesize test data failed: ${errorText(err)}`);
    return;
  }
  const written = resultUri(result);
  if (written) {
    const open = await vscode.window.showInformationMessage(`devassist: wrote ${path.basename(written.path)}`, 'Open');
    if (open) await vscode.window.showTextDocument(written);
  } else {
    void vscode.window.showInformationMessage('devassist: synthetic test data written.');
  }
}

/**
 * Fine-tune the model on a workspace folder (done by the server in a background process). The
 * server shows the progress, with Cancel, through `$/progress`, and the outcome as a message.
 */
export async function learnWorkspace(client: LanguageClient | undefined, resource?: vscode.Uri): Promise<void> {
  if (!client?.isRunning()) {
    void vscode.window.showWarningMessage('devassist: the server is not running. Run "devassist: Restart server".');
    return;
  }
  const folders = vscode.workspace.workspaceFolders ?? [];
  let folder = resource instanceof vscode.Uri ? vscode.workspace.getWorkspaceFolder(resource) : undefined;
  if (!folder && folders.length === 1) folder = folders[0];
  if (!folder && folders.length > 1) folder = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Folder to learn' });
  if (!folder) {
    if (!folders.length) void vscode.window.showInformationMessage('devassist: open a folder to learn its code.');
    return;
  }
  try {
    await client.sendRequest(ExecuteCommandRequest.type, { command: ServerCommands.learnWorkspace, arguments: [folder.uri.toString()] });
  } catch (err) {
    void vscode.window.showErrorMessage(`devassist: Learn this workspace failed: ${errorText(err)}`);
  }
}

/** The file a synth result names (`"file:///…"`, `{uri}` or `{path}`), if any. */
function resultUri(result: unknown): vscode.Uri | undefined {
  if (typeof result === 'string') return result.includes('://') ? vscode.Uri.parse(result) : vscode.Uri.file(result);
  if (result && typeof result === 'object') {
    const r = result as Record<string, unknown>;
    if (typeof r.uri === 'string') return vscode.Uri.parse(r.uri);
    if (typeof r.path === 'string') return vscode.Uri.file(r.path);
  }
  return undefined;
}

/** The message of an error from the server or the client. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
