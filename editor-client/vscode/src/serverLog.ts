/**
 * The level of each line the server writes to stderr. The server sends its log records as
 * `window/logMessage` once connected (server/client_log.py); stderr still carries what comes
 * before that (`devassist LEVEL message`, the format of `devassist serve`) and crash tracebacks.
 * vscode-languageclient would log every stderr line as `[error]`. Pure; unit-tested.
 */

/** The LogOutputChannel methods a line can go to. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const PREFIX = /^devassist (DEBUG|INFO|WARNING|ERROR|CRITICAL) /;
const LEVELS: Record<string, LogLevel> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error', CRITICAL: 'error' };

/**
 * The level for `line`: its own prefix, else that of the record it continues (a traceback's
 * lines follow their record), else error (an unformatted line on stderr is a crash's).
 */
export function stderrLevel(line: string, previous: LogLevel | undefined): LogLevel {
  const match = PREFIX.exec(line);
  if (match) return LEVELS[match[1]];
  return previous ?? 'error';
}

/** `line` without its `devassist LEVEL ` prefix (the channel shows the level itself). */
export function stderrText(line: string): string {
  return line.replace(PREFIX, '');
}

/** A stderr reader: call with each line; it logs it to `log` at the right level. */
export function stderrLogger(log: Record<LogLevel, (message: string) => void>): (line: string) => void {
  let previous: LogLevel | undefined;
  return (line: string) => {
    previous = stderrLevel(line, previous);
    log[previous](stderrText(line));
  };
}
