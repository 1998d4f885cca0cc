// lstmkit's compiled kernel for the LSTM variants: one layer and direction, the whole time loop in one call.
//
// The math is `kernels/fused_variants.py`'s, line for line (its docstring has the backward equations;
// `cells/lstm_variant.py` the forward ones): peephole, CIFG, layer norm, zoneout and any activation of
// `cells/activations.py`. Gates stay in the public order (i, f, g, o), or (i, g, o) with CIFG. The
// input projection [LN](W_ih x) + b of all steps arrives from Python (autograd differentiates it: one
// GEMM per weight); each step adds h_{t-1} W_hh^T (layer normalised when asked) into its slice of the
// (T, B, G·H) buffer with one BLAS call and applies the gates in plain loops, one per activation so
// the compiler vectorises each. With a projection (proj_size P) the rows write r = o ⊙ φ(u) (H wide),
// one GEMM per step maps it to h~ = r W_hr^T (B, P), and the zoneout and mask of h follow on the P-wide
// h. Backward: per step the pointwise terms and one GEMM dZ_t W_hh (and dh~_t W_hr with a projection);
// dW_hh, dW_hr, the peepholes and the layer-norm gains are one GEMM or one reduction each over all steps.
//
// Self-contained on purpose: the BLAS declarations and exp_poly are copies of `lstm.cpp`'s, so the
// LSTM's kernel and this one change independently.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "lstm_math.h"  // the BLAS declarations and the scalar exp, sigmoid, tanh

namespace {

using at::Tensor;
using c10::optional;

// Row-major C (n, m) = beta C + A (n, k) op(W): op(W) = W^T for W (m, k) when `transposed`, else W (k, m).
template <typename T>
void gemm(const T* w, bool transposed, int n, int m, int k, const T* a, T* c, T beta) {
  const char tw = transposed ? 'T' : 'N', ta = 'N';
  const int ld = transposed ? k : m;
  const T one = 1;
  if constexpr (std::is_same_v<T, float>) {
    sgemm_(&tw, &ta, &m, &n, &k, &one, w, &ld, a, &k, &beta, c, &m);
  } else {
    dgemm_(&tw, &ta, &m, &n, &k, &one, w, &ld, a, &k, &beta, c, &m);
  }
}

// The pointwise helpers are forced inline: inside `activate`'s many loops GCC otherwise calls them
// and leaves the loops scalar.
#define VARIANTS_INLINE LSTMKIT_INLINE

template <typename T>
VARIANTS_INLINE T hard_sigmoid(T x) {
  const T y = x / T(6) + T(0.5);
  return y < T(0) ? T(0) : (y > T(1) ? T(1) : y);
}
template <typename T>
VARIANTS_INLINE T inside(T x, T lo, T hi) { return x > lo && x < hi ? T(1) : T(0); }
template <typename T>
VARIANTS_INLINE T softplus(T x) { return x > T(20) ? x : std::log1p(std::exp(x)); }  // torch's threshold

// The activations of cells/activations.py, in the order of compiled_variants.ACTIVATION_CODES.
enum Act { LINEAR, TANH, SIGMOID, HARD_SIGMOID, RELU, RELU6, LEAKY_RELU, ELU, SELU, SOFTPLUS, SOFTSIGN,
           SILU, HARD_SILU, GELU, MISH, EXPONENTIAL };
constexpr double kSeluL = 1.0507009873554805, kSeluA = 1.6732632423543772, kSqrt1_2 = 0.70710678118654752440,
                 kInvSqrt2Pi = 0.39894228040143267794;

#define VARIANTS_LOOP(expr)                             \
  {                                                     \
    _Pragma("omp simd") for (int j = 0; j < n; ++j) {   \
      const T x = z[j];                                 \
      y[j] = (expr);                                    \
    }                                                   \
  }                                                     \
  break;

// y = act(z) over n values.
template <typename T>
void activate(int code, const T* z, T* y, int n) {
  switch (code) {
    case LINEAR: VARIANTS_LOOP(x)
    case TANH: VARIANTS_LOOP(tanh_(x))
    case SIGMOID: VARIANTS_LOOP(sigmoid(x))
    case HARD_SIGMOID: VARIANTS_LOOP(hard_sigmoid(x))
    case RELU: VARIANTS_LOOP(x > T(0) ? x : T(0))
    case RELU6: VARIANTS_LOOP(x < T(0) ? T(0) : (x > T(6) ? T(6) : x))
    case LEAKY_RELU: VARIANTS_LOOP(x > T(0) ? x : T(0.2) * x)
    case ELU: VARIANTS_LOOP(x > T(0) ? x : std::expm1(x))
    case SELU: VARIANTS_LOOP(x > T(0) ? T(kSeluL) * x : T(kSeluL * kSeluA) * std::expm1(x))
    case SOFTPLUS: VARIANTS_LOOP(softplus(x))
    case SOFTSIGN: VARIANTS_LOOP(x / (T(1) + std::abs(x)))
    case SILU: VARIANTS_LOOP(x * sigmoid(x))
    case HARD_SILU: VARIANTS_LOOP(x * hard_sigmoid(x))
    case GELU: VARIANTS_LOOP(T(0.5) * x * (T(1) + std::erf(x * T(kSqrt1_2))))
    case MISH: VARIANTS_LOOP(x * std::tanh(softplus(x)))
    case EXPONENTIAL: VARIANTS_LOOP(std::exp(x))
  }
}
#undef VARIANTS_LOOP

template <typename T>
VARIANTS_INLINE T silu_grad(T x) {
  const T s = sigmoid(x);
  return s * (T(1) + x * (T(1) - s));
}
template <typename T>
VARIANTS_INLINE T gelu_grad(T x) {  // Φ(x) + x φ(x)
  return T(0.5) * (T(1) + std::erf(x * T(kSqrt1_2))) + x * std::exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
}
template <typename T>
VARIANTS_INLINE T mish_grad(T x) {  // t + x σ(x) (1 - t²), t = tanh(softplus(x))
  const T t = std::tanh(softplus(x));
  return t + x * sigmoid(x) * (T(1) - t * t);
}

#define VARIANTS_LOOP(expr)                             \
  {                                                     \
    _Pragma("omp simd") for (int j = 0; j < n; ++j) {   \
      const T x = z[j], yj = a[j];                      \
      (void)x;                                          \
      (void)yj;                                         \
      g[j] *= (expr);                                   \
    }                                                   \
  }                                                     \
  break;

// g *= act'(z), with a = act(z) already computed (the derivatives of cells/activations.py).
template <typename T>
void times_derivative(int code, const T* z, const T* a, T* g, int n) {
  switch (code) {
    case LINEAR: return;
    case TANH: VARIANTS_LOOP(T(1) - yj * yj)
    case SIGMOID: VARIANTS_LOOP(yj * (T(1) - yj))
    case HARD_SIGMOID: VARIANTS_LOOP(inside(x, T(-3), T(3)) / T(6))
    case RELU: VARIANTS_LOOP(x > T(0) ? T(1) : T(0))
    case RELU6: VARIANTS_LOOP(inside(x, T(0), T(6)))
    case LEAKY_RELU: VARIANTS_LOOP(x > T(0) ? T(1) : T(0.2))
    case ELU: VARIANTS_LOOP(x > T(0) ? T(1) : yj + T(1))
    case SELU: VARIANTS_LOOP(x > T(0) ? T(kSeluL) : yj + T(kSeluL * kSeluA))
    case SOFTPLUS: VARIANTS_LOOP(sigmoid(x))
    case SOFTSIGN: VARIANTS_LOOP(T(1) / ((T(1) + std::abs(x)) * (T(1) + std::abs(x))))
    case SILU: VARIANTS_LOOP(silu_grad(x))
    case HARD_SILU: VARIANTS_LOOP(hard_sigmoid(x) + x * inside(x, T(-3), T(3)) / T(6))
    case GELU: VARIANTS_LOOP(gelu_grad(x))
    case MISH: VARIANTS_LOOP(mish_grad(x))
    case EXPONENTIAL: VARIANTS_LOOP(yj)
  }
}
#undef VARIANTS_LOOP

constexpr double kEps = 1e-5;  // cells/layer_norm.EPS

// μ and 1 / sqrt(σ² + ε) of a (n,), accumulated in double.
template <typename T>
void norm_stats(const T* a, int n, T* mu, T* rstd) {
  double s = 0, q = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < n; ++j) s += a[j];
  const double m = s / n;
#pragma omp simd reduction(+ : q)
  for (int j = 0; j < n; ++j) q += (a[j] - m) * (a[j] - m);
  *mu = T(m);
  *rstd = T(1.0 / std::sqrt(q / n + kEps));
}

// out = rstd (dn - mean(dn) - n mean(dn ⊙ n)), dn = γ dy, n = (a - μ) rstd: the gradient of a.
// Also acc += dy ⊙ n, the gain's gradient (in double: it sums over every row of the call).
template <typename T>
void norm_backward(const T* dy, const T* a, T mu, T rstd, const T* gamma, int n, T* out, double* acc) {
  double s = 0, q = 0;
#pragma omp simd reduction(+ : s, q)
  for (int j = 0; j < n; ++j) {
    const double dn = double(dy[j]) * gamma[j];
    s += dn;
    q += dn * (double(a[j]) - mu) * rstd;
  }
  const T ms = T(s / n), mq = T(q / n);
#pragma omp simd
  for (int j = 0; j < n; ++j) {
    const T nj = (a[j] - mu) * rstd;
    acc[j] += double(dy[j]) * nj;
    out[j] = rstd * (dy[j] * gamma[j] - ms - nj * mq);
  }
}

// Everything one direction's loop reads and writes; pointers into contiguous (T, B, ·) buffers.
template <typename T>
struct Layer {
  int T_, B, H, G;
  bool reverse, cifg;
  int act, rec;
  T *Z, *A, *CN, *U, *TAU, *C, *S, *Y;  // (T, B, G·H) x2, (T, B, H) x4, (T, B, P) x2; U is CN without layer norm
  T *AH, *MH, *RH, *MC, *RC;            // layer norm: (T, B, G·H), (T, B) x4; null without
  const T *w_hh, *p, *g_h, *g_c, *b_c;  // (G·H, P), (2 or 3, H) or null, (G·H,), (H,), (H,)
  const bool* mask;                     // (T, B) or null
  const T *hmask, *Dc, *Dh;             // (B, P), (T, B, H), (T, B, P) zoneout masks or null
  T zc, zh;                             // the zoneout expectation where there is no mask tensor
  int P;                                // the width of h: proj_size, or H without a projection
  T* R;                                 // (T, B, H) r = o ⊙ φ(u) before the projection, null without
  const T* w_hr;                        // (P, H) or null
  int step(int k) const { return reverse ? T_ - 1 - k : k; }
  int64_t row(int t, int b) const { return int64_t(t) * B + b; }
  int kg() const { return cifg ? 1 : 2; }
  T dc(int64_t e) const { return Dc ? Dc[e] : zc; }
  T dh(int64_t e) const { return Dh ? Dh[e] : zh; }
  bool on(int t, int b) const { return !mask || mask[row(t, b)]; }
};

// The gates, the new cell and output of one row, after z holds x and h projections.
template <typename T>
void forward_row(const Layer<T>& L, int t, int b, const T* hp, const T* cp) {
  const int H = L.H, GH = L.G * H;
  const int64_t r = L.row(t, b), e0 = r * H;
  T *z = L.Z + r * GH, *a = L.A + r * GH, *cn = L.CN + e0, *u = L.U + e0, *tau = L.TAU + e0;
  T *zo = z + (L.G - 1) * H, *ao = a + (L.G - 1) * H;
  if (L.p) {
    const T* p = L.p;
#pragma omp simd
    for (int j = 0; j < H; ++j) z[j] += p[j] * cp[j];
    if (!L.cifg) {
#pragma omp simd
      for (int j = 0; j < H; ++j) z[H + j] += p[H + j] * cp[j];
    }
  }
  activate(L.rec, z, a, L.cifg ? H : 2 * H);  // i (and f)
  activate(L.act, z + L.kg() * H, a + L.kg() * H, H);
  const T *i = a, *g = a + L.kg() * H;
#pragma omp simd
  for (int j = 0; j < H; ++j) cn[j] = (L.cifg ? T(1) - i[j] : a[H + j]) * cp[j] + i[j] * g[j];
  if (L.p) {
    const T* po = L.p + (L.cifg ? 1 : 2) * H;
#pragma omp simd
    for (int j = 0; j < H; ++j) zo[j] += po[j] * cn[j];
  }
  activate(L.rec, zo, ao, H);
  if (L.MC) {
    norm_stats(cn, H, L.MC + r, L.RC + r);
    const T mu = L.MC[r], rs = L.RC[r], *gc = L.g_c, *bc = L.b_c;
#pragma omp simd
    for (int j = 0; j < H; ++j) u[j] = bc[j] + (cn[j] - mu) * rs * gc[j];
  }
  activate(L.act, u, tau, H);
  T* c = L.C + e0;
  const T on = L.on(t, b) ? T(1) : T(0);
  const T *Dc = L.Dc ? L.Dc + e0 : nullptr, zc = L.zc, zh = L.zh;
  if (L.R) {  // r and the new c; h~ = r W_hr^T and its zoneout follow the step's projection (emit_row)
    T* rr = L.R + e0;
#pragma omp simd
    for (int j = 0; j < H; ++j) {
      rr[j] = ao[j] * tau[j];
      const T ct = cn[j] + (Dc ? Dc[j] : zc) * (cp[j] - cn[j]);
      c[j] = on != T(0) ? ct : cp[j];
    }
    return;
  }
  T *s = L.S + e0, *y = L.Y + e0;  // H wide only without a projection
  const T* Dh = L.Dh ? L.Dh + e0 : nullptr;
#pragma omp simd
  for (int j = 0; j < H; ++j) {  // zoneout, then the mask: masked rows keep the state and output 0
    const T hn = ao[j] * tau[j];
    const T ct = cn[j] + (Dc ? Dc[j] : zc) * (cp[j] - cn[j]), ht = hn + (Dh ? Dh[j] : zh) * (hp[j] - hn);
    c[j] = on != T(0) ? ct : cp[j];
    s[j] = on != T(0) ? ht : hp[j];
    y[j] = ht * on;
  }
}

// With a projection: h~ (P,) of one row, then zoneout and the mask into S and Y (P wide).
template <typename T>
void emit_row(const Layer<T>& L, int t, int b, const T* hn, const T* hp) {
  const int P = L.P;
  const int64_t e0 = L.row(t, b) * P;
  T *s = L.S + e0, *y = L.Y + e0;
  const T on = L.on(t, b) ? T(1) : T(0);
  const T *Dh = L.Dh ? L.Dh + e0 : nullptr, zh = L.zh;
#pragma omp simd
  for (int j = 0; j < P; ++j) {
    const T ht = hn[j] + (Dh ? Dh[j] : zh) * (hp[j] - hn[j]);
    s[j] = on != T(0) ? ht : hp[j];
    y[j] = ht * on;
  }
}

// h_in, hproj: (B, P) scratch.
template <typename T>
void forward_loop(const Layer<T>& L, const T* h0, const T* c0, T* h_in, T* hproj) {
  const int B = L.B, H = L.H, P = L.P, GH = L.G * H;
  const T *h = h0, *c = c0;
  for (int k = 0; k < L.T_; ++k) {
    const int t = L.step(k);
    const T* x = h;
    if (L.hmask) {  // variational recurrent dropout on the h fed to the recurrent GEMM
      for (int64_t e = 0; e < int64_t(B) * P; ++e) h_in[e] = h[e] * L.hmask[e];
      x = h_in;
    }
    T* zt = L.Z + int64_t(t) * B * GH;
    if (L.AH) {  // z += LN(h W_hh^T; γ_h)
      T* aht = L.AH + int64_t(t) * B * GH;
      gemm(L.w_hh, true, B, GH, P, x, aht, T(0));
      for (int b = 0; b < B; ++b) {
        const int64_t r = L.row(t, b);
        const T* a = aht + int64_t(b) * GH;
        norm_stats(a, GH, L.MH + r, L.RH + r);
        const T mu = L.MH[r], rs = L.RH[r], *gh = L.g_h;
        T* zb = zt + int64_t(b) * GH;
#pragma omp simd
        for (int j = 0; j < GH; ++j) zb[j] += (a[j] - mu) * rs * gh[j];
      }
    } else {
      gemm(L.w_hh, true, B, GH, P, x, zt, T(1));  // z += h W_hh^T
    }
    for (int b = 0; b < B; ++b) forward_row(L, t, b, h + int64_t(b) * P, c + int64_t(b) * H);
    if (L.R) {  // h~ = r W_hr^T, one GEMM for the step
      gemm(L.w_hr, true, B, P, H, L.R + int64_t(t) * B * H, hproj, T(0));
      for (int b = 0; b < B; ++b) emit_row(L, t, b, hproj + int64_t(b) * P, h + int64_t(b) * P);
    }
    h = L.S + int64_t(t) * B * P;
    c = L.C + int64_t(t) * B * H;
  }
}

Tensor data_or_empty(const optional<Tensor>& t) { return t ? t->contiguous() : Tensor(); }
template <typename T>
T* ptr(const Tensor& t) { return t.defined() && t.numel() ? t.data_ptr<T>() : nullptr; }

// The buffers of one call: [Y, h_n, c_n, Z, A, CN, U, TAU, C, S, AH, MH, RH, MC, RC, R] (empty where absent).
std::vector<Tensor> buffers(const Tensor& xw, int64_t H, int64_t P, bool projected, bool layer_norm, bool masked,
                            bool scratch) {
  const int64_t T_ = xw.size(0), B = xw.size(1);
  auto o = xw.options();
  // With `scratch` xw is the caller's own temporary (compiled_variants.layer), nobody else holds it:
  // the pre-activations are written into it instead of a copy.
  Tensor Z = scratch ? xw : xw.clone(), A = at::empty_like(xw), CN = at::empty({T_, B, H}, o), none = at::empty({0}, o);
  Tensor S = at::empty({T_, B, P}, o), Y = masked ? at::empty_like(S) : S;
  Tensor U = layer_norm ? at::empty_like(CN) : CN;
  auto stat = [&] { return layer_norm ? at::empty({T_, B}, o) : none; };
  return {Y, none, none, Z, A, CN, U, at::empty_like(CN), at::empty_like(CN), S,
          layer_norm ? at::empty_like(xw) : none, stat(), stat(), stat(), stat(),
          projected ? at::empty_like(CN) : none};
}

template <typename T>
Layer<T> make_layer(std::vector<Tensor>& b, const Tensor& w_hh, const Tensor& w_hr, const std::vector<Tensor>& in,
                    double zc, double zh, bool reverse, bool cifg, int64_t act, int64_t rec) {
  // in: p, g_h, g_c, b_c, mask, hmask, D_c, D_h (contiguous or undefined); w_hr undefined without a projection
  const int64_t P = w_hh.size(1), H = w_hr.defined() ? w_hr.size(1) : P;
  return Layer<T>{int(b[3].size(0)), int(b[3].size(1)), int(H), int(w_hh.size(0) / H), reverse, cifg, int(act),
                  int(rec), ptr<T>(b[3]), ptr<T>(b[4]), ptr<T>(b[5]), ptr<T>(b[6]), ptr<T>(b[7]), ptr<T>(b[8]),
                  ptr<T>(b[9]), ptr<T>(b[0]), ptr<T>(b[10]), ptr<T>(b[11]), ptr<T>(b[12]), ptr<T>(b[13]),
                  ptr<T>(b[14]), w_hh.data_ptr<T>(), ptr<T>(in[0]), ptr<T>(in[1]), ptr<T>(in[2]), ptr<T>(in[3]),
                  in[4].defined() ? in[4].data_ptr<bool>() : nullptr, ptr<T>(in[5]), ptr<T>(in[6]),
                  ptr<T>(in[7]), T(zc), T(zh), int(P), w_hr.defined() ? ptr<T>(b[15]) : nullptr,
                  w_hr.defined() ? w_hr.data_ptr<T>() : nullptr};
}

std::vector<Tensor> inputs(const optional<Tensor>& p, const optional<Tensor>& g_h, const optional<Tensor>& g_c,
                           const optional<Tensor>& b_c, const optional<Tensor>& mask,
                           const optional<Tensor>& hmask, const optional<Tensor>& D_c,
                           const optional<Tensor>& D_h) {
  return {data_or_empty(p),    data_or_empty(g_h),   data_or_empty(g_c), data_or_empty(b_c),
          data_or_empty(mask), data_or_empty(hmask), data_or_empty(D_c), data_or_empty(D_h)};
}

std::vector<Tensor> variants_forward(const Tensor& xw_in, const Tensor& h0_in, const Tensor& c0_in,
                                     const Tensor& w_hh_in, const optional<Tensor>& p, const optional<Tensor>& g_h,
                                     const optional<Tensor>& g_c, const optional<Tensor>& b_c,
                                     const optional<Tensor>& mask, const optional<Tensor>& hmask,
                                     const optional<Tensor>& D_c, const optional<Tensor>& D_h, double zc, double zh,
                                     bool reverse, bool cifg, bool layer_norm, int64_t act, int64_t rec,
                                     bool scratch, const optional<Tensor>& w_hr_in) {
  TORCH_CHECK(xw_in.device().is_cpu(), "compiled variants kernel: expected CPU tensors");
  const Tensor xw = xw_in.contiguous(), h0 = h0_in.contiguous(), c0 = c0_in.contiguous();
  const Tensor w_hh = w_hh_in.contiguous(), w_hr = data_or_empty(w_hr_in);
  const int64_t T_ = xw.size(0), P = w_hh.size(1), H = c0.size(1);
  std::vector<Tensor> b = buffers(xw, H, P, w_hr.defined(), layer_norm, mask.has_value(),
                                  scratch && xw.is_same(xw_in));
  const std::vector<Tensor> in = inputs(p, g_h, g_c, b_c, mask, hmask, D_c, D_h);
  Tensor h_in = at::empty_like(h0), hproj = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "variants_forward", [&] {
    const Layer<scalar_t> L = make_layer<scalar_t>(b, w_hh, w_hr, in, zc, zh, reverse, cifg, act, rec);
    forward_loop(L, h0.data_ptr<scalar_t>(), c0.data_ptr<scalar_t>(), h_in.data_ptr<scalar_t>(),
                 hproj.data_ptr<scalar_t>());
  });
  const int64_t last = reverse ? 0 : T_ - 1;
  b[1] = T_ ? b[9][last].clone() : h0.clone();
  b[2] = T_ ? b[8][last].clone() : c0.clone();
  return b;
}

// Scratch rows of the backward (H,) and the parameter gradients summed over every row of the call, in
// double: the peepholes (rows i, f, o or i, o), γ_h (G·H), γ_c and β_c (H).
template <typename T>
struct Scratch {
  std::vector<T> dht, dct, du, dn;
  std::vector<double> dp, dg_h, dg_c, db_c;
  Scratch(const Layer<T>& L)
      : dht(L.H), dct(L.H), du(L.H), dn(L.H), dp(L.p ? (L.cifg ? 2 : 3) * L.H : 0),
        dg_h(L.AH ? L.G * L.H : 0), dg_c(L.AH ? L.H : 0), db_c(L.AH ? L.H : 0) {}
};

// dc~ = (1 - d^c) dc + dz_o p_o + [LN_c'](dr o φ'(u)), dz_o = dr φ(u) σ'_r(o), dr = dh~ = (1 - d^h) dh.
// With a projection dh arrives as dr = dh~ W_hr (backward_loop applied d^h before the GEMM).
// Returns dc~ in s.dct; dz_o is written, the rest of dz follows in backward_row.
template <typename T>
void backward_cell(const Layer<T>& L, int64_t r, const T* dh, const T* dc, T* dzo, Scratch<T>& s) {
  const int H = L.H, GH = L.G * H;
  const int64_t e0 = r * H;
  const T *ao = L.A + r * GH + (L.G - 1) * H, *tau = L.TAU + e0;
  const T *Dc = L.Dc ? L.Dc + e0 : nullptr, *Dh = L.Dh && !L.R ? L.Dh + e0 : nullptr, zc = L.zc,
          zh = L.R ? T(0) : L.zh;
  T *dht = s.dht.data(), *dct = s.dct.data(), *du = s.du.data();
#pragma omp simd
  for (int j = 0; j < H; ++j) {
    dht[j] = dh[j] * (T(1) - (Dh ? Dh[j] : zh));
    dct[j] = dc[j] * (T(1) - (Dc ? Dc[j] : zc));
    du[j] = dht[j] * ao[j];
    dzo[j] = dht[j] * tau[j];
  }
  times_derivative(L.act, L.U + e0, tau, du, H);  // dh~ o φ'(u)
  if (L.MC) {
    for (int j = 0; j < H; ++j) s.db_c[j] += du[j];
    norm_backward(du, L.CN + e0, L.MC[r], L.RC[r], L.g_c, H, s.dn.data(), s.dg_c.data());
    du = s.dn.data();
  }
  times_derivative(L.rec, L.Z + r * GH + (L.G - 1) * H, ao, dzo, H);
  const T* po = L.p ? L.p + (L.cifg ? 1 : 2) * H : nullptr;
#pragma omp simd
  for (int j = 0; j < H; ++j) dct[j] += du[j] + (po ? dzo[j] * po[j] : T(0));
}

// One row of the backward step: fills dz (G·H,), turns dc into dc_{t-1} and writes zh, the zoneout
// share of dh_{t-1}. dh holds dh + dY_t on entry; cp is c_{t-1}.
template <typename T>
void backward_row(const Layer<T>& L, int64_t r, const T* cp, const T* dh, T* dc, T* zh, T* dz, Scratch<T>& s) {
  const int H = L.H, GH = L.G * H, kg = L.kg();
  const T *z = L.Z + r * GH, *a = L.A + r * GH, *i = a, *g = a + kg * H;
  backward_cell(L, r, dh, dc, dz + (L.G - 1) * H, s);
  const T* dct = s.dct.data();
  const bool cifg = L.cifg;
#pragma omp simd
  for (int j = 0; j < H; ++j) {
    dz[j] = dct[j] * (cifg ? g[j] - cp[j] : g[j]);
    if (!cifg) dz[H + j] = dct[j] * cp[j];
    dz[kg * H + j] = dct[j] * i[j];
  }
  times_derivative(L.rec, z, a, dz, cifg ? H : 2 * H);
  times_derivative(L.act, z + kg * H, g, dz + kg * H, H);
  const T *Dc = L.Dc ? L.Dc + r * H : nullptr, zc = L.zc, zhz = L.zh;
  const T* p = L.p;
  const T* f = cifg ? nullptr : a + H;
  if (!L.R) {  // with a projection backward_loop writes the P-wide share
    const T* Dh = L.Dh ? L.Dh + r * H : nullptr;
#pragma omp simd
    for (int j = 0; j < H; ++j) zh[j] = dh[j] * (Dh ? Dh[j] : zhz);
  }
#pragma omp simd
  for (int j = 0; j < H; ++j)  // dc_{t-1} = dc~ f + d^c dc (peepholes below)
    dc[j] = dct[j] * (f ? f[j] : T(1) - i[j]) + dc[j] * (Dc ? Dc[j] : zc);
  if (p) {  // dc_{t-1} += dz_i p_i + dz_f p_f
#pragma omp simd
    for (int j = 0; j < H; ++j) dc[j] += dz[j] * p[j] + (cifg ? T(0) : dz[H + j] * p[H + j]);
    const int n = cifg ? 1 : 2;  // dp_i, dp_f += dz ⊙ c_{t-1}; dp_o += dz_o ⊙ c~
    for (int q = 0; q < n; ++q)
      for (int j = 0; j < H; ++j) s.dp[q * H + j] += double(dz[q * H + j]) * cp[j];
    const T* cn = L.CN + r * H;
    for (int j = 0; j < H; ++j) s.dp[n * H + j] += double(dz[(L.G - 1) * H + j]) * cn[j];
  }
}

// The backward time loop: fills dZ (and DHW with layer norm, DH with a projection) and the sums in s;
// dh, dc hold dh_n, dc_n on entry and the gradients of h0, c0 on return. work: (B, P) x3, dr (B, H).
template <typename T>
void backward_loop(const Layer<T>& L, const T* dY, const T* c0, T* dZ, T* DHW, T* DH, T* dh, T* dc, T* dh_cur,
                   T* zh, T* dh_next, T* dr, Scratch<T>& s) {
  const int B = L.B, H = L.H, P = L.P, GH = L.G * H;
  const int64_t BH = int64_t(B) * H, BP = int64_t(B) * P;
  for (int k = L.T_ - 1; k >= 0; --k) {
    const int t = L.step(k);
    const T* cprev = k == 0 ? c0 : L.C + int64_t(L.step(k - 1)) * BH;
    T *dzt = dZ + int64_t(t) * B * GH, *dwt = DHW + int64_t(t) * B * GH;
    for (int64_t e = 0; e < BP; ++e) dh_cur[e] = dh[e] + dY[int64_t(t) * BP + e];
    const T* dgate = dh_cur;  // the gradient reaching r_t: dh (+ dY) or, with a projection, dh~ W_hr
    if (L.R) {  // dh~ = (1 - d^h) dh on the rows that ran (0 on masked ones), zh = d^h dh, dr = dh~ W_hr
      T* dht = DH + int64_t(t) * BP;
      for (int b = 0; b < B; ++b) {
        const int64_t e0 = L.row(t, b) * P;
        T *d = dht + int64_t(b) * P, *zb = zh + int64_t(b) * P;
        const T *cur = dh_cur + int64_t(b) * P, *Dh = L.Dh ? L.Dh + e0 : nullptr, zhz = L.zh;
        if (!L.on(t, b)) {
          std::memset(d, 0, sizeof(T) * P);
          continue;
        }
#pragma omp simd
        for (int j = 0; j < P; ++j) {
          const T dj = Dh ? Dh[j] : zhz;
          d[j] = cur[j] * (T(1) - dj);
          zb[j] = cur[j] * dj;
        }
      }
      gemm(L.w_hr, false, B, H, P, dht, dr, T(0));
      dgate = dr;
    }
    for (int b = 0; b < B; ++b) {
      const int64_t r = L.row(t, b);
      if (!L.on(t, b)) {  // a masked row: no gradient into its gates, the carry passes through
        std::memset(dzt + int64_t(b) * GH, 0, sizeof(T) * GH);
        if (L.AH) std::memset(dwt + int64_t(b) * GH, 0, sizeof(T) * GH);
        continue;
      }
      backward_row(L, r, cprev + int64_t(b) * H, dgate + int64_t(b) * H, dc + int64_t(b) * H, zh + int64_t(b) * P,
                   dzt + int64_t(b) * GH, s);
      if (L.AH)
        norm_backward(dzt + int64_t(b) * GH, L.AH + r * GH, L.MH[r], L.RH[r], L.g_h, GH, dwt + int64_t(b) * GH,
                      s.dg_h.data());
    }
    gemm(L.w_hh, false, B, P, GH, dwt, dh_next, T(0));  // dh_{t-1} = dz_t W_hh (layer normalised)
    for (int b = 0; b < B; ++b) {
      if (!L.on(t, b)) continue;  // dh stays
      const T *dn = dh_next + int64_t(b) * P, *hm = L.hmask ? L.hmask + int64_t(b) * P : nullptr,
              *zb = zh + int64_t(b) * P;
      T* d = dh + int64_t(b) * P;
#pragma omp simd
      for (int j = 0; j < P; ++j) d[j] = dn[j] * (hm ? hm[j] : T(1)) + zb[j];
    }
  }
}

// The state each step started from: S one step back in processing order, s0 first. (T, B, ·).
Tensor shifted(const Tensor& S, const Tensor& s0, bool reverse) {
  const int64_t T_ = S.size(0);
  return reverse ? at::cat({S.slice(0, 1, T_), s0.unsqueeze(0)}, 0) : at::cat({s0.unsqueeze(0), S.slice(0, 0, T_ - 1)}, 0);
}

Tensor from_sums(const std::vector<double>& v, const at::TensorOptions& o, int64_t rows) {
  if (v.empty()) return at::empty({0}, o);
  Tensor t = at::empty({int64_t(v.size())}, o.dtype(at::kDouble));
  std::memcpy(t.data_ptr<double>(), v.data(), sizeof(double) * v.size());
  t = t.to(o.dtype());
  return rows ? t.view({rows, -1}) : t;
}

// Returns [dxw, dh0, dc0, dw_hh, dp, dg_h, dg_c, db_c, dw_hr] (empty where absent). `saved` is the forward's list.
std::vector<Tensor> variants_backward(const Tensor& dY_in, const Tensor& dh_n, const Tensor& dc_n,
                                      std::vector<Tensor> saved, const Tensor& h0_in, const Tensor& c0_in,
                                      const Tensor& w_hh_in, const optional<Tensor>& p, const optional<Tensor>& g_h,
                                      const optional<Tensor>& g_c, const optional<Tensor>& b_c,
                                      const optional<Tensor>& mask, const optional<Tensor>& hmask,
                                      const optional<Tensor>& D_c, const optional<Tensor>& D_h, double zc,
                                      double zh, bool reverse, bool cifg, int64_t act, int64_t rec,
                                      const optional<Tensor>& w_hr_in) {
  const Tensor dY = dY_in.contiguous(), h0 = h0_in.contiguous(), c0 = c0_in.contiguous();
  const Tensor w_hh = w_hh_in.contiguous(), w_hr = data_or_empty(w_hr_in);
  const std::vector<Tensor> in = inputs(p, g_h, g_c, b_c, mask, hmask, D_c, D_h);
  const bool ln = saved[10].numel() > 0;
  Tensor dh = dh_n.contiguous().clone(), dc = dc_n.contiguous().clone();
  Tensor dZ = at::empty_like(saved[3]), DHW = ln ? at::empty_like(dZ) : dZ;
  Tensor dh_cur = at::empty_like(dh), zhb = at::empty_like(dh), dh_next = at::empty_like(dh);
  Tensor DH = w_hr.defined() ? at::empty_like(saved[9]) : Tensor(), dr = at::empty_like(c0);  // dh~ (T, B, P)
  const int64_t T_ = dZ.size(0), B = dZ.size(1), P = h0.size(1);
  std::vector<Tensor> out{dZ, dh, dc};
  AT_DISPATCH_FLOATING_TYPES(dY.scalar_type(), "variants_backward", [&] {
    using T = scalar_t;
    const Layer<T> L = make_layer<T>(saved, w_hh, w_hr, in, zc, zh, reverse, cifg, act, rec);
    Scratch<T> s(L);
    backward_loop(L, dY.data_ptr<T>(), c0.data_ptr<T>(), dZ.data_ptr<T>(), DHW.data_ptr<T>(), ptr<T>(DH),
                  dh.data_ptr<T>(), dc.data_ptr<T>(), dh_cur.data_ptr<T>(), zhb.data_ptr<T>(), dh_next.data_ptr<T>(),
                  dr.data_ptr<T>(), s);
    Tensor h_prev = shifted(saved[9], h0, reverse);  // the h each step's recurrent GEMM saw
    if (in[5].defined()) h_prev = h_prev * in[5];
    out.push_back(at::mm(DHW.view({T_ * B, -1}).t(), h_prev.view({T_ * B, P})));  // dW_hh, one GEMM
    const auto o = dZ.options();
    for (Tensor t : {from_sums(s.dp, o, cifg ? 2 : 3), from_sums(s.dg_h, o, 0), from_sums(s.dg_c, o, 0),
                     from_sums(s.db_c, o, 0)})
      out.push_back(t);
    // dW_hr = Σ_t dh~_t^T r_t, one GEMM
    out.push_back(w_hr.defined() ? at::mm(DH.view({T_ * B, P}).t(), saved[15].view({T_ * B, -1})) : at::empty({0}, o));
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(lstmkit_compiled, m) {
  m.def("variants_forward(Tensor xw, Tensor h0, Tensor c0, Tensor w_hh, Tensor? p, Tensor? g_h, Tensor? g_c, "
        "Tensor? b_c, Tensor? mask, Tensor? hmask, Tensor? D_c, Tensor? D_h, float zc, float zh, bool reverse, "
        "bool cifg, bool layer_norm, int act, int rec, bool scratch, Tensor? w_hr) -> Tensor[]",
        &variants_forward);
  m.def("variants_backward(Tensor dY, Tensor dh_n, Tensor dc_n, Tensor[] saved, Tensor h0, Tensor c0, "
        "Tensor w_hh, Tensor? p, Tensor? g_h, Tensor? g_c, Tensor? b_c, Tensor? mask, Tensor? hmask, "
        "Tensor? D_c, Tensor? D_h, float zc, float zh, bool reverse, bool cifg, int act, int rec, Tensor? w_hr) -> Tensor[]",
        &variants_backward);
}
