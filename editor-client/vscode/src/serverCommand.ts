/**
 * Which process runs the server, and with which arguments.
 *
 * Order: the `server.command` setting, then `server.pythonPath` (`python -m devassist.server`),
 * then `devassist` on the PATH, then `python3`/`python` on the PATH. Pure: the file system and
 * PATH are reached only through the functions in `Environment`, so it is unit-tested.
 */
import * as path from 'node:path';
import { SERVER_MODULE } from './constants';

/** What resolution needs to know about the machine. */
export interface Environment {
  /** The user's home folder, for `~` and `${userHome}`. */
  home: string;
  /** The first workspace folder's path, for `${workspaceFolder}` and relative paths. */
  workspaceFolder?: string;
  /** Environment variables, for `${env:NAME}`. */
  env: Record<string, string | undefined>;
  /** 'win32' looks for `.exe`/`.cmd` and uses `python` before `python3`. */
  platform: string;
  /** The full path of an executable found on the PATH, or undefined. */
  which: (name: string) => string | undefined;
}

/** A resolved server process. */
export interface ServerCommand {
  command: string;
  args: string[];
  /** Which rule picked it, shown in the output channel and in error messages. */
  source: 'setting:command' | 'setting:pythonPath' | 'path:devassist' | 'path:python';
}

/** Expand `~`, `${userHome}`, `${workspaceFolder}` and `${env:NAME}`; relative -> workspace. */
export function expandPath(value: string, env: Environment): string {
  let out = value.trim();
  if (!out) return out;
  out = out.replace(/\$\{userHome\}/g, env.home);
  out = out.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env.env[name] ?? '');
  if (env.workspaceFolder) out = out.replace(/\$\{workspaceFolder\}/g, env.workspaceFolder);
  if (out === '~' || out.startsWith('~/')) out = env.home + out.slice(1);
  const p = env.platform === 'win32' ? path.win32 : path.posix;
  // A bare name (`devassist`, `python3`) is left for the PATH; a relative path with a separator
  // is taken relative to the workspace, as VS Code users expect.
  if (env.workspaceFolder && !p.isAbsolute(out) && /[\\/]/.test(out)) out = p.join(env.workspaceFolder, out);
  return out;
}

/** The arguments after `serve`: `--bundle DIR` when a bundle is set. */
export function serveArgs(bundle: string, env: Environment): string[] {
  const dir = expandPath(bundle, env);
  return dir ? ['serve', '--bundle', dir] : ['serve'];
}

/** The server process for these settings, or undefined when nothing can run it. */
export function resolveServerCommand(
  settings: { command: string; pythonPath: string; bundle: string },
  env: Environment,
): ServerCommand | undefined {
  const args = serveArgs(settings.bundle, env);
  const command = expandPath(settings.command, env);
  if (command) return { command, args, source: 'setting:command' };
  const python = expandPath(settings.pythonPath, env);
  if (python) return { command: python, args: ['-m', SERVER_MODULE, ...args], source: 'setting:pythonPath' };
  const devassist = env.which('devassist');
  if (devassist) return { command: devassist, args, source: 'path:devassist' };
  const names = env.platform === 'win32' ? ['python', 'py', 'python3'] : ['python3', 'python'];
  for (const name of names) {
    const found = env.which(name);
    if (found) return { command: found, args: ['-m', SERVER_MODULE, ...args], source: 'path:python' };
  }
  return undefined;
}

/** `which` over a PATH string, with an `exists` check, for tests and the real lookup alike. */
export function whichOn(
  pathVar: string | undefined,
  platform: string,
  isExecutable: (file: string) => boolean,
  pathExt = '.EXE;.CMD;.BAT;.COM',
): (name: string) => string | undefined {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const dirs = (pathVar ?? '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
  const exts = platform === 'win32' ? ['', ...pathExt.split(';').map((e) => e.toLowerCase())] : [''];
  return (name) => {
    for (const dir of dirs) {
      for (const ext of exts) {
        const file = p.join(dir, name + ext);
        if (isExecutable(file)) return file;
      }
    }
    return undefined;
  };
}

/** The command line as a person would type it, for the output channel and messages. */
export function displayCommand(cmd: ServerCommand): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  return [cmd.command, ...cmd.args].map(quote).join(' ');
}
