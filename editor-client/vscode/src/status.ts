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
  switch (status.state) {
    case 'starting':
      return { text: `$(sync~spin) devassist${model}`, tooltip: `devassist: loading the model${model}…${detail}`, level: 'normal' };
    case 'busy':
      return { text: `$(loading~spin) devassist${model}`, tooltip: `devassist: the model${model} is busy${detail}`, level: 'normal' };
    case 'error':
      return { text: `$(warning) devassist${model}`, tooltip: `devassist: error${detail}`, level: 'error' };
    default:
      return { text: `$(check) devassist${model}`, tooltip: `devassist: ready, model${model}${detail}\nClick for the server output.`, level: 'normal' };
  }
}

/** Whether an unknown notification payload is a valid ServerStatus. */
export function isServerStatus(value: unknown): value is ServerStatus {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return ['starting', 'ready', 'busy', 'error'].includes(v.state as string) && (v.model === undefined || typeof v.model === 'string');
}
