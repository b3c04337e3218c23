// The activations of ModernBERT-family configs (HF's ACT2FN), shared by the GEMM epilogues: the launchers
// prepend this file to their source and set ACTIVATION: 0 gelu (exact, erf), 1 gelu_tanh (the tanh
// approximation: gelu_pytorch_tanh, gelu_new, gelu_fast), 2 silu (x sigmoid(x)), 3 relu.
override ACTIVATION: u32 = 0u;

// erf to about 1.5e-7 (Abramowitz & Stegun 7.1.26), enough for f32 GELU.
fn erf_approx(v: f32) -> f32 {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - poly * exp(-a * a));
}

fn act(v: f32) -> f32 {
  switch ACTIVATION {
    case 1u: {
      return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    }
    case 2u: {
      return v / (1.0 + exp(-v));
    }
    case 3u: {
      return max(v, 0.0);
    }
    default: {
      return 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));
    }
  }
}

fn act4(v: vec4f) -> vec4f {
  return vec4f(act(v.x), act(v.y), act(v.z), act(v.w));
}
