// Test-only entry point: reads a logical tensor's bytes in plain TypeScript (no native code), element by element.
// The native executor is checked against this; readers and rules use it to compare tensors in tests.
export { gatherView, materialize, readStorage } from '../../lib/tensor/read.js';
