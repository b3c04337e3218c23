// Shader sources are imported as text (bin/wgsl-hooks.js in Node, a plugin in vitest, esbuild's text loader in the browser bundle).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
