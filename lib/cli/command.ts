/** A CLI subcommand: its own file under commands/, registered in main.ts. */
export interface Command {
  readonly name: string;
  /** one line for the command list */
  readonly summary: string;
  /** full `--help` text */
  readonly help: string;
  /** returns the process exit code (0 ok, 1 failure, 2 usage) */
  run(argv: string[]): Promise<number>;
}
