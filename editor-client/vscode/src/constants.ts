/** Ids shared by package.json, the extension and the server: one place to change them. */

/** The settings section, in VS Code and on the wire (`workspace/configuration`). */
export const SECTION = 'devassist';

/** Our VS Code command ids (contributed in package.json). */
export const Commands = {
  generateDocstring: 'devassist.docstring.generate',
  synthesizeTestData: 'devassist.synth.fromFile',
  learnWorkspace: 'devassist.workspace.learn',
  restartServer: 'devassist.server.restart',
  showOutput: 'devassist.server.showOutput',
} as const;

/**
 * Server-side command ids for `workspace/executeCommand`. They differ from ours on purpose:
 * vscode-languageclient registers every command the server advertises as a VS Code command,
 * so ours must not collide with them.
 */
export const ServerCommands = {
  generateDocstring: 'devassist.generateDocstring',
  synthesizeTestData: 'devassist.synthesizeTestData',
  learnWorkspace: 'devassist.learnWorkspace',
} as const;

/** The server's status notification: `{state, model, message?}`. */
export const STATUS_NOTIFICATION = 'devassist/status';

/** Ours to the server: `{textDocument: {uri}, ranges}`, the lines on screen (review scores them first). */
export const VISIBLE_RANGES_NOTIFICATION = 'devassist/visibleRanges';

/** Settings that change how the server process is started; changing one restarts it. */
export const RESTART_SETTINGS = ['server.command', 'server.pythonPath', 'server.bundle'] as const;

/** The Python module that runs the server (`python -m devassist.server serve`). */
export const SERVER_MODULE = 'devassist.server';

/** What a user installs to get the server. */
export const INSTALL_HINT = "pip install 'devassist[cpu]'";
