// Runs the CLI from source in a real process (tests spawn it with vite-node, so no build step is needed).
import { main } from '../../lib/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err); process.exitCode = 1; },
);
