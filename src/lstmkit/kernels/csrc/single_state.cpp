// lstmkit's compiled GRU and simple-RNN kernels: one layer and direction, the whole time loop in one
// native call (ops gru_forward, gru_backward, rnn_forward, rnn_backward in the lstmkit_compiled
// namespace that lstm.cpp registers).
//
// The math is `kernels/fused_gru.py`'s and `kernels/fused_rnn.py`'s (see their docstrings for the
// backward equations); gates in the public order (r, z, n). The input projection of all steps is one
// GEMM into a (T, B, G·H) buffer G, which then holds the activated gates (the RNN: h_t itself); each
// step adds h_{t-1} W_hh^T with one BLAS call (reset-before GRU: two, the second waiting for r) and
// applies the pointwise math in loops the compiler vectorises. Backward: per step the pointwise
// derivatives and one GEMM (reset before: two); dx and the weight gradients are one GEMM each over
// all steps. Masked steps keep h and output zeros; the recurrent-dropout mask m multiplies the h fed
// to the recurrent GEMMs.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include <dlfcn.h>

#include "lstm_math.h"  // the BLAS wrapper (Gemm, with row strides) and the scalar exp, sigmoid, tanh

namespace {

using at::Tensor;

// One direction's buffers and sizes; pointers into contiguous (T, B, ·) tensors.
template <typename T>
struct Seq {
  int T_, B, H;
  bool reverse;
  const bool* mask;  // (T, B) or null
  const T* hmask;    // (B, H) or null
  int step(int k) const { return reverse ? T_ - 1 - k : k; }
  bool runs(int t, int b) const { return !mask || mask[int64_t(t) * B + b]; }
  int64_t row(int t, int b) const { return int64_t(t) * B + b; }
};

// After step t wrote every row's new h into S_t: masked rows keep h_prev in S and output zeros in Y.
template <typename T>
void mask_step(const Seq<T>& q, int t, const T* h_prev, T* S, T* Y) {
  if (!q.mask) return;
  for (int b = 0; b < q.B; ++b) {
    T *s = S + q.row(t, b) * q.H, *y = Y + q.row(t, b) * q.H;
    if (q.runs(t, b)) {
      std::memcpy(y, s, sizeof(T) * q.H);
    } else {
      std::memcpy(s, h_prev + int64_t(b) * q.H, sizeof(T) * q.H);
      std::memset(y, 0, sizeof(T) * q.H);
    }
  }
}

// The forward time loop: step(t, h_prev, h_in) with h_in = h_prev ⊙ m (recurrent dropout) or h_prev.
template <typename T, typename Step>
void forward_loop(const Seq<T>& q, const T* h0, T* S, T* Y, T* h_in, Step step) {
  const int64_t BH = int64_t(q.B) * q.H;
  const T* h = h0;
  for (int k = 0; k < q.T_; ++k) {
    const int t = q.step(k);
    const T* x = h;
    if (q.hmask) {
      for (int64_t e = 0; e < BH; ++e) h_in[e] = h[e] * q.hmask[e];
      x = h_in;
    }
    step(t, h, x);
    mask_step(q, t, h, S, Y);
    h = S + t * BH;
  }
}

// The backward time loop. dh holds dh_n on entry and dh_0 on return. step(t, k, d, dh_prev) gets d,
// the gradient reaching h_t (zero on masked rows, so their pre-activation gradients are zero), and
// writes the gradient reaching h_{t-1} through the step; masked rows pass the carry through instead.
template <typename T, typename Step>
void backward_loop(const Seq<T>& q, const T* dY, T* dh, T* d, T* dh_prev, Step step) {
  const int64_t BH = int64_t(q.B) * q.H;
  for (int k = q.T_ - 1; k >= 0; --k) {
    const int t = q.step(k);
    const T* dy = dY + t * BH;
    for (int64_t e = 0; e < BH; ++e) d[e] = dh[e] + dy[e];
    for (int b = 0; b < q.B; ++b)
      if (!q.runs(t, b)) std::memset(d + int64_t(b) * q.H, 0, sizeof(T) * q.H);
    step(t, k, d, dh_prev);
    for (int b = 0; b < q.B; ++b)
      if (!q.runs(t, b)) std::memcpy(dh_prev + int64_t(b) * q.H, dh + int64_t(b) * q.H, sizeof(T) * q.H);
    std::memcpy(dh, dh_prev, sizeof(T) * BH);
  }
}

// dh_prev (B, H) = (g ⊙ m) + d ⊙ z, m the recurrent-dropout mask when there is one.
template <typename T>
void gru_carry(const Seq<T>& q, T* g, const T* d, const T* G_t) {
  const int H = q.H;
  for (int b = 0; b < q.B; ++b) {
    T* gb = g + int64_t(b) * H;
    const T *db = d + int64_t(b) * H, *z = G_t + int64_t(b) * 3 * H + H;
    const T* m = q.hmask ? q.hmask + int64_t(b) * H : nullptr;
#pragma omp simd
    for (int j = 0; j < H; ++j) gb[j] = (m ? gb[j] * m[j] : gb[j]) + db[j] * z[j];
  }
}

// The h each step's recurrent GEMM saw, h_{t-1} (⊙ the recurrent-dropout mask): (T, B, H).
Tensor previous_states(const Tensor& S, const Tensor& h0, bool reverse, const c10::optional<Tensor>& hmask) {
  const int64_t T_ = S.size(0);
  Tensor prev = reverse ? at::cat({S.slice(0, 1, T_), h0.unsqueeze(0)}, 0)
                        : at::cat({h0.unsqueeze(0), S.slice(0, 0, T_ - 1)}, 0);
  return hmask ? prev * *hmask : prev;
}

template <typename T>
Seq<T> make_seq(const Tensor& x, int64_t H, bool reverse, const Tensor& m, const Tensor& hm) {
  return Seq<T>{int(x.size(0)), int(x.size(1)), int(H), reverse, m.defined() ? m.data_ptr<bool>() : nullptr,
                hm.defined() ? hm.data_ptr<T>() : nullptr};
}

Tensor opt(const c10::optional<Tensor>& t) { return t ? t->contiguous() : Tensor(); }

Tensor last_state(const Tensor& S, const Tensor& h0, bool reverse) {
  return S.size(0) ? S[reverse ? 0 : S.size(0) - 1].clone() : h0.clone();
}

// ---- GRU, reset after (torch's form): n = tanh(G_n + r ⊙ (W_hn h + b_hn)); A_t holds h W_hh^T
// (+ b_hn in its n block), kept for backward.
template <typename T>
void gru_after_step(const Seq<T>& q, int t, const T* h_prev, T* G, T* A, T* S, const T* b_hn) {
  const int H = q.H;
  for (int b = 0; b < q.B; ++b) {
    T *g = G + q.row(t, b) * 3 * H, *a = A + q.row(t, b) * 3 * H, *s = S + q.row(t, b) * H;
    const T* hp = h_prev + int64_t(b) * H;
#pragma omp simd
    for (int j = 0; j < 2 * H; ++j) g[j] = sigmoid(g[j] + a[j]);  // r, z
#pragma omp simd
    for (int j = 0; j < H; ++j) {
      if (b_hn) a[2 * H + j] += b_hn[j];
      const T n = tanh_(g[2 * H + j] + g[j] * a[2 * H + j]);
      g[2 * H + j] = n;
      s[j] = n + g[H + j] * (hp[j] - n);  // (1 - z) n + z h_prev
    }
  }
}

// d (B, H) the gradient reaching h_t -> Dg_t = [d(r_pre), d(z_pre), d(n_pre)], Da_t = [d(r_pre),
// d(z_pre), d(hn)] (the gradient of h W_hh^T + b_hh).
template <typename T>
void gru_after_grad(const Seq<T>& q, int t, const T* h_prev, const T* G, const T* A, const T* d, T* Dg, T* Da) {
  const int H = q.H;
  for (int b = 0; b < q.B; ++b) {
    const int64_t o = q.row(t, b) * 3 * H;
    const T *g = G + o, *hn = A + o + 2 * H, *hp = h_prev + int64_t(b) * H, *db = d + int64_t(b) * H;
    T *dg = Dg + o, *da = Da + o;
#pragma omp simd
    for (int j = 0; j < H; ++j) {
      const T r = g[j], z = g[H + j], n = g[2 * H + j];
      const T dn = db[j] * (T(1) - z) * (T(1) - n * n);
      const T dr = dn * hn[j] * r * (T(1) - r);
      const T dz = db[j] * (hp[j] - n) * z * (T(1) - z);
      dg[j] = da[j] = dr;
      dg[H + j] = da[H + j] = dz;
      dg[2 * H + j] = dn;
      da[2 * H + j] = dn * r;
    }
  }
}

// ---- GRU, reset before (Keras' reset_after=False): n = tanh(G_n + W_hn (r ⊙ h)); RH_t = r ⊙ h_in.
template <typename T>
void gru_before_gates(const Seq<T>& q, int t, const T* h_in, T* G, T* RH) {
  const int H = q.H;
  for (int b = 0; b < q.B; ++b) {
    T *g = G + q.row(t, b) * 3 * H, *rh = RH + q.row(t, b) * H;
    const T* x = h_in + int64_t(b) * H;
#pragma omp simd
    for (int j = 0; j < 2 * H; ++j) g[j] = sigmoid(g[j]);  // r, z
#pragma omp simd
    for (int j = 0; j < H; ++j) rh[j] = g[j] * x[j];
  }
}

template <typename T>
void gru_before_state(const Seq<T>& q, int t, const T* h_prev, T* G, T* S) {
  const int H = q.H;
  for (int b = 0; b < q.B; ++b) {
    T *g = G + q.row(t, b) * 3 * H, *s = S + q.row(t, b) * H;
    const T* hp = h_prev + int64_t(b) * H;
#pragma omp simd
    for (int j = 0; j < H; ++j) {
      const T n = tanh_(g[2 * H + j]);
      g[2 * H + j] = n;
      s[j] = n + g[H + j] * (hp[j] - n);
    }
  }
}

// d(z_pre), d(n_pre) into D_t; then, with drh = d(n_pre) W_hn, d(r_pre) = drh ⊙ h_in ⊙ r(1-r) and
// drh ⊙ r into drh (its share of the gradient reaching h_in).
template <typename T>
void gru_before_zn_grad(const Seq<T>& q, int t, const T* h_prev, const T* G, const T* d, T* D) {
  const int H = q.H;
  for (int b = 0; b < q.B; ++b) {
    const int64_t o = q.row(t, b) * 3 * H;
    const T *g = G + o, *hp = h_prev + int64_t(b) * H, *db = d + int64_t(b) * H;
    T* dg = D + o;
#pragma omp simd
    for (int j = 0; j < H; ++j) {
      const T z = g[H + j], n = g[2 * H + j];
      dg[H + j] = db[j] * (hp[j] - n) * z * (T(1) - z);
      dg[2 * H + j] = db[j] * (T(1) - z) * (T(1) - n * n);
    }
  }
}

template <typename T>
void gru_before_r_grad(const Seq<T>& q, int t, const T* h_in, const T* G, T* drh, T* D) {
  const int H = q.H;
  for (int b = 0; b < q.B; ++b) {
    const int64_t o = q.row(t, b) * 3 * H;
    const T *r = G + o, *x = h_in + int64_t(b) * H;
    T *dg = D + o, *e = drh + int64_t(b) * H;
#pragma omp simd
    for (int j = 0; j < H; ++j) {
      dg[j] = e[j] * x[j] * r[j] * (T(1) - r[j]);
      e[j] *= r[j];
    }
  }
}

// Returns [Y (T,B,H), h_n (B,H)] and what backward needs: [G (T,B,3H) activated gates, A (reset
// after: (T,B,3H) h W_hh^T + (0, 0, b_hn); reset before: (T,B,H) r ⊙ h_in), S (T,B,H) states].
std::vector<Tensor> gru_forward(const Tensor& x_in, const Tensor& h0_in, const Tensor& w_ih, const Tensor& w_hh_in,
                                const c10::optional<Tensor>& b_ih, const c10::optional<Tensor>& b_hh,
                                bool reset_after, bool reverse, const c10::optional<Tensor>& mask,
                                const c10::optional<Tensor>& hmask) {
  TORCH_CHECK(x_in.device().is_cpu(), "compiled GRU kernel: expected CPU tensors");
  const Tensor x = x_in.contiguous(), h0 = h0_in.contiguous(), w_hh = w_hh_in.contiguous();
  const int64_t T_ = x.size(0), B = x.size(1), H = w_hh.size(1);
  Tensor G = at::mm(x.view({T_ * B, -1}), w_ih.t()).view({T_, B, 3 * H});
  Tensor b_hn;
  if (b_ih) {  // reset after: b_hn stays inside r ⊙ (...); reset before it adds to b_in
    G.add_(reset_after ? *b_ih + at::cat({b_hh->slice(0, 0, 2 * H), at::zeros({H}, x.options())}) : *b_ih + *b_hh);
    if (reset_after) b_hn = b_hh->slice(0, 2 * H, 3 * H).contiguous();
  }
  Tensor A = at::empty({T_, B, reset_after ? 3 * H : H}, x.options());
  Tensor Y = at::empty({T_, B, H}, x.options()), S = mask ? at::empty_like(Y) : Y, h_in = at::empty_like(h0);
  const Tensor m = opt(mask), hm = opt(hmask);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_forward", [&] {
    using T = scalar_t;
    const Seq<T> q = make_seq<T>(x, H, reverse, m, hm);
    T *g = G.data_ptr<T>(), *a = A.data_ptr<T>(), *s = S.data_ptr<T>();
    const T* w = w_hh.data_ptr<T>();
    const int b = int(B), h = int(H);
    if (reset_after) {
      const Gemm<T> rec(w, b, 3 * h, h, true, h, 3 * h);
      const T* bn = b_hn.defined() ? b_hn.data_ptr<T>() : nullptr;
      forward_loop(q, h0.data_ptr<T>(), s, Y.data_ptr<T>(), h_in.data_ptr<T>(), [&](int t, const T* hp, const T* hx) {
        rec(hx, a + t * B * 3 * H, T(0));
        gru_after_step(q, t, hp, g, a, s, bn);
      });
    } else {
      const Gemm<T> rz(w, b, 2 * h, h, true, h, 3 * h), n(w + 2 * H * H, b, h, h, true, h, 3 * h);
      forward_loop(q, h0.data_ptr<T>(), s, Y.data_ptr<T>(), h_in.data_ptr<T>(), [&](int t, const T* hp, const T* hx) {
        rz(hx, g + t * B * 3 * H, T(1));
        gru_before_gates(q, t, hx, g, a);
        n(a + t * B * H, g + t * B * 3 * H + 2 * H, T(1));
        gru_before_state(q, t, hp, g, s);
      });
    }
  });
  return {Y, last_state(S, h0, reverse), G, A, S};
}

// The per-step backward of either form; fills the pre-activation gradients Dg (and Da, reset after).
template <typename T>
void gru_backward_loop(const Seq<T>& q, bool reset_after, const T* dY, const T* h0, const T* G, const T* A,
                       const T* S, const T* w, T* Dg, T* Da, T* dh, T* d, T* dh_prev, T* drh, T* h_in) {
  const int B = q.B, H = q.H;
  const int64_t BH = int64_t(B) * H;
  auto prev = [&](int k) { return k == 0 ? h0 : S + q.step(k - 1) * BH; };
  if (reset_after) {
    const Gemm<T> rec(w, B, H, 3 * H, false, 3 * H, H);  // Da_t W_hh
    backward_loop(q, dY, dh, d, dh_prev, [&](int t, int k, const T* dt, T* out) {
      gru_after_grad(q, t, prev(k), G, A, dt, Dg, Da);
      rec(Da + t * BH * 3, out, T(0));
      gru_carry(q, out, dt, G + t * BH * 3);
    });
    return;
  }
  const Gemm<T> gn(w + 2 * H * H, B, H, H, false, 3 * H, H), grz(w, B, H, 2 * H, false, 3 * H, H);
  backward_loop(q, dY, dh, d, dh_prev, [&](int t, int k, const T* dt, T* out) {
    const T* hp = prev(k);
    const T* x = hp;
    if (q.hmask) {
      for (int64_t e = 0; e < BH; ++e) h_in[e] = hp[e] * q.hmask[e];
      x = h_in;
    }
    T* Dt = Dg + t * BH * 3;
    gru_before_zn_grad(q, t, hp, G, dt, Dg);
    gn(Dt + 2 * H, drh, T(0));  // drh = d(n_pre) W_hn
    gru_before_r_grad(q, t, x, G, drh, Dg);
    grz(Dt, out, T(0));  // [d(r_pre), d(z_pre)] W_hr,z
    for (int64_t e = 0; e < BH; ++e) out[e] += drh[e];
    gru_carry(q, out, dt, G + t * BH * 3);
  });
}

// Returns [dx, dh0, dw_ih, dw_hh, db_ih, db_hh]; the biases empty without them.
std::vector<Tensor> gru_backward(const Tensor& dY_in, const Tensor& dh_n, const Tensor& x, const Tensor& h0,
                                 const Tensor& w_ih, const Tensor& w_hh_in, const Tensor& G, const Tensor& A,
                                 const Tensor& S, bool reset_after, bool reverse,
                                 const c10::optional<Tensor>& mask, const c10::optional<Tensor>& hmask,
                                 bool has_bias) {
  const Tensor dY = dY_in.contiguous(), w_hh = w_hh_in.contiguous(), h0c = h0.contiguous();
  const int64_t T_ = x.size(0), B = x.size(1), H = w_hh.size(1);
  Tensor dh = dh_n.contiguous().clone(), d = at::empty_like(dh), dh_prev = at::empty_like(dh);
  Tensor drh = at::empty_like(dh), h_in = at::empty_like(dh);
  Tensor Dg = at::empty_like(G), Da = reset_after ? at::empty_like(G) : Dg;
  const Tensor m = opt(mask), hm = opt(hmask);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_backward", [&] {
    using T = scalar_t;
    gru_backward_loop(make_seq<T>(x, H, reverse, m, hm), reset_after, dY.data_ptr<T>(), h0c.data_ptr<T>(),
                      G.data_ptr<T>(), A.data_ptr<T>(), S.data_ptr<T>(), w_hh.data_ptr<T>(), Dg.data_ptr<T>(),
                      Da.data_ptr<T>(), dh.data_ptr<T>(), d.data_ptr<T>(), dh_prev.data_ptr<T>(),
                      drh.data_ptr<T>(), h_in.data_ptr<T>());
  });
  const Tensor Dg2 = Dg.view({T_ * B, 3 * H}), Da2 = Da.view({T_ * B, 3 * H});
  const Tensor prev = previous_states(S, h0c, reverse, hmask).view({T_ * B, H});
  Tensor dw_hh = reset_after ? at::mm(Da2.t(), prev)
                             : at::cat({at::mm(Dg2.slice(1, 0, 2 * H).t(), prev),
                                        at::mm(Dg2.slice(1, 2 * H, 3 * H).t(), A.view({T_ * B, H}))});
  Tensor none = at::empty({0}, x.options());
  return {at::mm(Dg2, w_ih).view_as(x), dh, at::mm(Dg2.t(), x.reshape({T_ * B, -1})), dw_hh,
          has_bias ? Dg2.sum(0) : none, has_bias ? Da2.sum(0) : none};
}

// ---- The simple RNN: h_t = φ(G_t + h_in W_hh^T), φ tanh or relu; G ends up holding every step's φ.
template <typename T>
void rnn_activate(const Seq<T>& q, int t, bool relu, T* G) {
  T* g = G + q.row(t, 0) * q.H;
  const int64_t n = int64_t(q.B) * q.H;
  if (relu) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) g[j] = g[j] > T(0) ? g[j] : T(0);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) g[j] = tanh_(g[j]);
  }
}

// Returns [Y (T,B,H), h_n (B,H)] and what backward needs: [G (T,B,H) φ of every step, S (T,B,H)].
std::vector<Tensor> rnn_forward(const Tensor& x_in, const Tensor& h0_in, const Tensor& w_ih, const Tensor& w_hh_in,
                                const c10::optional<Tensor>& b_ih, const c10::optional<Tensor>& b_hh, bool relu,
                                bool reverse, const c10::optional<Tensor>& mask, const c10::optional<Tensor>& hmask) {
  TORCH_CHECK(x_in.device().is_cpu(), "compiled RNN kernel: expected CPU tensors");
  const Tensor x = x_in.contiguous(), h0 = h0_in.contiguous(), w_hh = w_hh_in.contiguous();
  const int64_t T_ = x.size(0), B = x.size(1), H = w_hh.size(1);
  Tensor G = at::mm(x.view({T_ * B, -1}), w_ih.t()).view({T_, B, H});
  if (b_ih) G.add_(*b_ih + *b_hh);
  Tensor Y = mask ? at::empty_like(G) : G, S = mask ? at::empty_like(G) : G, h_in = at::empty_like(h0);
  const Tensor m = opt(mask), hm = opt(hmask);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rnn_forward", [&] {
    using T = scalar_t;
    const Seq<T> q = make_seq<T>(x, H, reverse, m, hm);
    const Gemm<T> rec(w_hh.data_ptr<T>(), int(B), int(H), int(H), true, int(H), int(H));
    T *g = G.data_ptr<T>(), *s = S.data_ptr<T>();
    forward_loop(q, h0.data_ptr<T>(), s, Y.data_ptr<T>(), h_in.data_ptr<T>(), [&](int t, const T*, const T* hx) {
      rec(hx, g + t * B * H, T(1));
      rnn_activate(q, t, relu, g);
      if (s != g) std::memcpy(s + t * B * H, g + t * B * H, sizeof(T) * B * H);  // mask_step fixes masked rows
    });
  });
  return {Y, last_state(S, h0, reverse), G, S};
}

// d(pre_t) = d ⊙ φ'(pre_t), from φ's value: 1 - h² for tanh, [h > 0] for relu.
template <typename T>
void rnn_grad(const Seq<T>& q, int t, bool relu, const T* G, const T* d, T* dG) {
  const int64_t o = q.row(t, 0) * q.H, n = int64_t(q.B) * q.H;
  const T* g = G + o;
  T* dg = dG + o;
  if (relu) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) dg[j] = g[j] > T(0) ? d[j] : T(0);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) dg[j] = d[j] * (T(1) - g[j] * g[j]);
  }
}

// Returns [dx, dh0, dw_ih, dw_hh, db] (db empty without biases; it is both b_ih's and b_hh's).
std::vector<Tensor> rnn_backward(const Tensor& dY_in, const Tensor& dh_n, const Tensor& x, const Tensor& h0,
                                 const Tensor& w_ih, const Tensor& w_hh_in, const Tensor& G, const Tensor& S,
                                 bool relu, bool reverse, const c10::optional<Tensor>& mask,
                                 const c10::optional<Tensor>& hmask, bool has_bias) {
  const Tensor dY = dY_in.contiguous(), w_hh = w_hh_in.contiguous(), h0c = h0.contiguous();
  const int64_t T_ = x.size(0), B = x.size(1), H = w_hh.size(1);
  Tensor dh = dh_n.contiguous().clone(), d = at::empty_like(dh), dh_prev = at::empty_like(dh);
  Tensor dG = at::empty_like(G);
  const Tensor m = opt(mask), hm = opt(hmask);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rnn_backward", [&] {
    using T = scalar_t;
    const Seq<T> q = make_seq<T>(x, H, reverse, m, hm);
    const Gemm<T> rec(w_hh.data_ptr<T>(), int(B), int(H), int(H), false, int(H), int(H));  // dG_t W_hh
    const T* g = G.data_ptr<T>();
    T* dg = dG.data_ptr<T>();
    backward_loop(q, dY.data_ptr<T>(), dh.data_ptr<T>(), d.data_ptr<T>(), dh_prev.data_ptr<T>(),
                  [&](int t, int, const T* dt, T* out) {
                    rnn_grad(q, t, relu, g, dt, dg);
                    rec(dg + t * B * H, out, T(0));
                    if (q.hmask)
                      for (int64_t e = 0; e < B * H; ++e) out[e] *= q.hmask[e];
                  });
  });
  const Tensor dG2 = dG.view({T_ * B, H});
  const Tensor prev = previous_states(S, h0c, reverse, hmask).view({T_ * B, H});
  return {at::mm(dG2, w_ih).view_as(x), dh, at::mm(dG2.t(), x.reshape({T_ * B, -1})), at::mm(dG2.t(), prev),
          has_bias ? dG2.sum(0) : at::empty({0}, x.options())};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(lstmkit_compiled, m) {
  m.def("gru_forward(Tensor x, Tensor h0, Tensor w_ih, Tensor w_hh, Tensor? b_ih, Tensor? b_hh, "
        "bool reset_after, bool reverse, Tensor? mask, Tensor? hmask) -> Tensor[]", &gru_forward);
  m.def("gru_backward(Tensor dY, Tensor dh_n, Tensor x, Tensor h0, Tensor w_ih, Tensor w_hh, Tensor G, "
        "Tensor A, Tensor S, bool reset_after, bool reverse, Tensor? mask, Tensor? hmask, bool has_bias) "
        "-> Tensor[]", &gru_backward);
  m.def("rnn_forward(Tensor x, Tensor h0, Tensor w_ih, Tensor w_hh, Tensor? b_ih, Tensor? b_hh, "
        "bool relu, bool reverse, Tensor? mask, Tensor? hmask) -> Tensor[]", &rnn_forward);
  m.def("rnn_backward(Tensor dY, Tensor dh_n, Tensor x, Tensor h0, Tensor w_ih, Tensor w_hh, Tensor G, "
        "Tensor S, bool relu, bool reverse, Tensor? mask, Tensor? hmask, bool has_bias) -> Tensor[]",
        &rnn_backward);
}
