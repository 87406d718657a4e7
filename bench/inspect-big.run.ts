// Runs the inspect-on-big-checkpoints bench (see inspect-big.ts): npx vite-node bench/inspect-big.run.ts
import { main } from './inspect-big.js';

main();
