/** Benchmark harness entry (placeholder until the harness lands). */
type Out = { out: (s: string) => void; err: (s: string) => void };

export async function runBench(_args: string[], io: Out): Promise<number> {
  io.err('dispatchd bench: not implemented yet\n');
  return 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runBench(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
}
