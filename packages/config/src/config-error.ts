/** One invalid or missing environment variable. Messages describe the rule, never the value. */
export interface ConfigIssue {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(
      ['Invalid configuration:', ...issues.map((issue) => `  - ${issue.variable}: ${issue.message}`)].join(
        '\n',
      ),
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
