/** The task of the bare piscina echo server: returns its params. CommonJS, as piscina require()s it. */
module.exports = function echo(params: unknown): unknown {
  return params;
};
