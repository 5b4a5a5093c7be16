/** Generated from server/settings.py by scripts/generate_settings.py: do not edit. */

/** One server setting: its JSON type, default, and the bounds or choices the server enforces. */
export interface ServerSettingSpec {
  type: 'boolean' | 'integer' | 'number' | 'string';
  default: boolean | number | string;
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
}

/** `group.name` (camelCase, as on the wire) -> its spec, in the server's order. */
export const SERVER_SETTINGS: Record<string, ServerSettingSpec> = {
  "completion.enabled": {
    "type": "boolean",
    "default": true
  },
  "completion.maxTokens": {
    "type": "integer",
    "default": 48,
    "minimum": 1,
    "maximum": 512
  },
  "completion.timeBudgetMs": {
    "type": "integer",
    "default": 300,
    "minimum": 10,
    "maximum": 60000
  },
  "completion.multiline": {
    "type": "boolean",
    "default": true
  },
  "completion.contextTokens": {
    "type": "integer",
    "default": 256,
    "minimum": 16,
    "maximum": 8192
  },
  "completion.minTokenProbability": {
    "type": "number",
    "default": 0.5,
    "minimum": 0.0,
    "maximum": 1.0
  },
  "completion.repoContextTokens": {
    "type": "integer",
    "default": 0,
    "minimum": 0,
    "maximum": 4096
  },
  "completion.cacheMix": {
    "type": "number",
    "default": 0.0,
    "minimum": 0.0,
    "maximum": 1.0
  },
  "docstring.style": {
    "type": "string",
    "default": "google",
    "enum": [
      "google",
      "numpy",
      "sphinx"
    ]
  },
  "docstring.summary": {
    "type": "string",
    "default": "parse",
    "enum": [
      "model",
      "parse-first",
      "parse"
    ]
  },
  "review.enabled": {
    "type": "boolean",
    "default": true
  },
  "review.findingThresholdShift": {
    "type": "number",
    "default": 0.0,
    "minimum": -20.0,
    "maximum": 50.0
  },
  "review.unusualFunctions": {
    "type": "boolean",
    "default": true
  },
  "review.threshold": {
    "type": "number",
    "default": 99.0,
    "minimum": 0.0,
    "maximum": 100.0
  },
  "review.maxDiagnostics": {
    "type": "integer",
    "default": 10,
    "minimum": 0,
    "maximum": 1000
  },
  "review.severity": {
    "type": "string",
    "default": "hint",
    "enum": [
      "error",
      "warning",
      "information",
      "hint"
    ]
  },
  "review.debounceMs": {
    "type": "integer",
    "default": 500,
    "minimum": 0,
    "maximum": 60000
  },
  "review.budgetMs": {
    "type": "integer",
    "default": 1000,
    "minimum": 50,
    "maximum": 60000
  },
  "remote.fallbackToLocal": {
    "type": "boolean",
    "default": false
  },
  "remote.timeoutMs": {
    "type": "integer",
    "default": 1000,
    "minimum": 50,
    "maximum": 60000
  },
  "learn.timeBudgetS": {
    "type": "integer",
    "default": 600,
    "minimum": 5,
    "maximum": 86400
  },
  "learn.useLearntModel": {
    "type": "boolean",
    "default": true
  }
};
