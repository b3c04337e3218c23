// GELU (erf form, HF's "gelu"), shared by the GEMM epilogues: the launchers prepend this file to their source.
// erf to about 1.5e-7 (Abramowitz & Stegun 7.1.26), enough for f32 GELU.
fn erf_approx(v: f32) -> f32 {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - poly * exp(-a * a));
}

fn gelu(v: f32) -> f32 {
  return 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));
}
