// Registers the loaders the TypeScript sources need in Node: tsx for .ts, and .wgsl shader sources as text.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./wgsl-hooks.js', import.meta.url);
