/**
 * Turn a server that failed to start into one notification that says what to do.
 *
 * Pure: it reads the spawn error, exit code and the tail of stderr; unit-tested.
 */
import { INSTALL_HINT, SERVER_MODULE } from './constants';
import { displayCommand, type ServerCommand } from './serverCommand';

/** What the notification offers besides closing it. */
export type FixAction = 'openSettings' | 'showOutput' | 'restart';

/** One notification: the problem and the fix, in a sentence or two. */
export interface StartupProblem {
  kind: 'noPython' | 'notFound' | 'notInstalled' | 'badBundle' | 'crashed';
  message: string;
  actions: FixAction[];
}

/** What is known about the failed start. */
export interface StartupFailure {
  /** The resolved command, or undefined when nothing could run the server. */
  command?: ServerCommand;
  /** `spawn` failed (ENOENT, EACCES). */
  spawnError?: { code?: string; message: string };
  /** The exit code, if the process ran and exited. */
  exitCode?: number | null;
  /** The last lines the server wrote on stderr. */
  stderr: string[];
}

const BUNDLE_WORDS = /\b(bundle|manifest(\.json)?|checksum|sha256|\.onnx|tokenizer\.json)\b/i;

/** The last non-empty stderr line that is not a Python traceback frame. */
function lastLine(stderr: string[]): string | undefined {
  const lines = stderr.map((l) => l.trim()).filter((l) => l && !l.startsWith('File "') && l !== 'Traceback (most recent call last):');
  return lines[lines.length - 1];
}

/** Classify a failed start; the message names the fix. */
export function describeStartupFailure(f: StartupFailure): StartupProblem {
  const settingHint = 'set "devassist.server.pythonPath" to a Python that has devassist, or "devassist.server.command" to the devassist executable';
  if (!f.command) {
    return {
      kind: 'noPython',
      message: `devassist: no Python or devassist command was found on the PATH. Install Python 3.11+ and run \`${INSTALL_HINT}\`, or ${settingHint}.`,
      actions: ['openSettings'],
    };
  }
  const shown = displayCommand(f.command);
  if (f.spawnError) {
    const what = f.spawnError.code === 'EACCES' ? 'is not executable' : 'was not found';
    return {
      kind: 'notFound',
      message: `devassist: the server command \`${f.command.command}\` ${what}. Fix the path, or ${settingHint}.`,
      actions: ['openSettings', 'showOutput'],
    };
  }
  const text = f.stderr.join('\n');
  if (new RegExp(`No module named '?(devassist|${SERVER_MODULE.replace('.', '\\.')})`).test(text)) {
    return {
      kind: 'notInstalled',
      message: `devassist is not installed for ${f.command.command}. Run \`${f.command.command} -m ${INSTALL_HINT}\`, or ${settingHint}.`,
      actions: ['openSettings', 'showOutput'],
    };
  }
  const last = lastLine(f.stderr);
  if (last && BUNDLE_WORDS.test(last)) {
    return {
      kind: 'badBundle',
      message: `devassist: the model bundle cannot be loaded: ${last}. Set "devassist.server.bundle" to a valid bundle folder (or clear it for the default), or reinstall the bundle.`,
      actions: ['openSettings', 'showOutput'],
    };
  }
  const code = f.exitCode === undefined || f.exitCode === null ? 'stopped' : `exited with code ${f.exitCode}`;
  return {
    kind: 'crashed',
    message: `devassist: the server (${shown}) ${code}${last ? `: ${last}` : ''}. See the output for details, then restart the server.`,
    actions: ['showOutput', 'restart'],
  };
}

/** Keeps the last `size` lines of a stream (stderr), split across chunks. */
export class LineTail {
  private lines: string[] = [];
  private partial = '';

  constructor(private readonly size = 40) {}

  /** Add a chunk; returns the complete lines it finished. */
  push(chunk: string): string[] {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > this.size) this.lines.splice(0, this.lines.length - this.size);
    return parts;
  }

  /** The kept lines, including an unfinished last one. */
  get(): string[] {
    return this.partial ? [...this.lines, this.partial] : [...this.lines];
  }
}
