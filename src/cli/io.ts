/** Where the CLI writes, and the one error it reports as a usage error. */

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

export const stdio: Io = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

/** A mistake in the command line: one line on stderr, exit status 2, nothing done. */
export class UsageError extends Error {
  /** The command it is about, or null for the top level. */
  readonly command: string | null;
  constructor(command: string | null, message: string) {
    super(message);
    this.command = command;
  }
  override get name(): string {
    return 'UsageError';
  }
  /** The line to print: names the command and where its help is. */
  line(): string {
    return this.command === null
      ? `dispatchd: ${this.message}; see dispatchd --help\n`
      : `dispatchd ${this.command}: ${this.message}; see dispatchd ${this.command} --help\n`;
  }
}
