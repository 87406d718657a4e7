export * from './dtype.js';
export * from './shape.js';
export type { Storage, View } from './view.js';
export * as views from './view.js';
export type { Block, Tensor } from './tensor.js';
export * as tensors from './tensor.js';
