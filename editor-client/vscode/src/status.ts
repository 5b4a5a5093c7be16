/** The status bar item's text for the client and server state. Pure; unit-tested. */

/** The server's `devassist/status` notification. */
export interface ServerStatus {
  state: 'starting' | 'ready' | 'busy' | 'error';
  model: string;
  message?: string;
}

/** Where the client is, before the server says anything. */
export type ClientPhase = 'stopped' | 'starting' | 'running' | 'failed';

/** What the status bar item shows. */
export interface StatusView {
  text: string;
  tooltip: string;
  /** 'error' and 'warning' map to the status bar's background colours. */
  level: 'normal' | 'warning' | 'error';
}

/** Combine the client phase and the last server status into one view. */
export function statusView(phase: ClientPhase, status?: ServerStatus): StatusView {
  if (phase === 'failed') return { text: '$(error) devassist', tooltip: 'devassist: the server could not start. Click for the output.', level: 'error' };
  if (phase === 'stopped') return { text: '$(circle-slash) devassist', tooltip: 'devassist: the server is stopped.', level: 'warning' };
  if (phase === 'starting' || !status) return { text: '$(sync~spin) devassist', tooltip: 'devassist: starting the server…', level: 'normal' };
  const model = status.model ? ` ${status.model}` : '';
  const detail = status.message ? `\n${status.message}` : '';
  // The server's own words (review progress: "reviewed 37 of 79 functions") beat the model name.
  const said = status.message ? `: ${shorten(status.message, MESSAGE_CHARS)}` : '';
  switch (status.state) {
    case 'starting':
      return { text: `$(sync~spin) devassist${model}`, tooltip: `devassist: loading the model${model}…${detail}`, level: 'normal' };
    case 'busy':
      return { text: `$(loading~spin) devassist${said || model}`, tooltip: `devassist: the model${model} is busy${detail}`, level: 'normal' };
    case 'error':
      return { text: `$(warning) devassist${model}`, tooltip: `devassist: error${detail}`, level: 'error' };
    default:
      return { text: `$(check) devassist${said || model}`, tooltip: `devassist: ready, model${model}${detail}\nClick for the server output.`, level: 'normal' };
  }
}

/** Most characters of the server's message shown in the status bar (the tooltip has all of it). */
export const MESSAGE_CHARS = 48;

function shorten(text: string, max: number): string {
  const line = text.split('\n')[0].trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** Whether an unknown notification payload is a valid ServerStatus. */
export function isServerStatus(value: unknown): value is ServerStatus {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    ['starting', 'ready', 'busy', 'error'].includes(v.state as string) &&
    (v.model === undefined || typeof v.model === 'string') &&
    (v.message === undefined || v.message === null || typeof v.message === 'string')
  );
}
