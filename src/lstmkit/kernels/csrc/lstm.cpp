// lstmkit's compiled LSTM kernel: one layer and direction, the whole time loop in one native call.
//
// The math is `kernels/fused.py`'s, line for line (see its docstring for the backward equations):
// internal gate order (o, i, f, g); the input projection of all steps is one GEMM into a (T, B, 4H)
// buffer that then holds the activated gates; each step adds h_{t-1} W_hh^T into its slice with one
// BLAS call and applies the gate math in plain loops the compiler vectorises. Backward: per step the
// pointwise gate derivatives and one GEMM dG_t W_hh; dx and the weight gradients are one GEMM each
// over all steps. What Python drove as ~10 torch calls per step is here one BLAS call and one loop.
// In float32 on AVX-512 up to kTileMaxWork, `lstm_tile.cpp` replaces each step's BLAS call and gate
// loop by one register-blocked pass (the gate math on the GEMM's tile while it is in registers). With
// more than one thread the batch is cut into slices that run the whole loop each, on their own thread.
//
// A second cell (GRU, RNN) is a second pair of step bodies (`*_step`) next to these: the buffers,
// the BLAS wrapper, the activations and the driving loops' shape stay the same.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <memory>
#include <vector>

#include "lstm_math.h"  // the BLAS wrapper (Gemm) and the scalar exp, sigmoid, tanh

// csrc/lstm_tile.cpp: the register-blocked float32 step kernels (AVX-512), built into this library.
namespace lstmkit_tile {
bool available();
int64_t gate_panels_size(int H, int P);
int64_t row_panels_size(int K, int N);
void pack_gates(const float* w, int H, int P, float* out);
void pack_rows(const float* w, int K, int N, float* out);
void forward_gates(const float* h, int B, int P, int H, const float* packed, float* G, float* C, float* TC,
                   float* Rout, const float* c_prev);
void gemm(const float* a, int64_t lda, int B, int K, int N, const float* packed, float* c, int64_t ldc);
}  // namespace lstmkit_tile

namespace {

using at::Tensor;

// The tile kernels run float32 steps up to this per-step work B·4H·P (multiply-adds); beyond it MKL's
// GEMM, which blocks for the caches, is as fast.
constexpr int64_t kTileMaxWork = int64_t(1) << 22;
// With more than one thread the batch is split into slices of at least this many rows, each running
// the whole time loop on its own thread: rows never interact, so the threads never wait on each other.
constexpr int64_t kSliceRows = 8;

template <typename T>
bool tiled(int B, int H, int P) {
  return std::is_same_v<T, float> && lstmkit_tile::available() && int64_t(B) * 4 * H * P <= kTileMaxWork;
}

// Everything one direction's loop reads and writes; pointers into contiguous (T, B, ·) buffers.
template <typename T>
struct Layer {
  int T_, B, H, P;
  bool reverse;
  T *G, *C, *TC, *R, *S, *Y;  // (T, B, 4H), (T, B, H) x3 (R null without projection), (T, B, P) x2
  const T *w_hh, *w_hr;        // (4H, P) internal order; (P, H) or null
  const bool* mask;            // (T, B) or null
  const T* hmask;              // (B, P) or null
  int ld = 0;                  // rows per step in the buffers: the whole batch, of which B may be a slice
  int step(int k) const { return reverse ? T_ - 1 - k : k; }
  // Rows [b0, b0 + nb) of every step. The rows of a batch never interact, so slices run in parallel.
  Layer slice(int b0, int nb) const {
    Layer s = *this;
    s.B = nb;
    const auto at = [b0](auto* p, int width) { return p ? p + int64_t(b0) * width : p; };
    s.G = at(G, 4 * H), s.C = at(C, H), s.TC = at(TC, H), s.R = at(R, H), s.S = at(S, P), s.Y = at(Y, P);
    s.mask = at(mask, 1), s.hmask = at(hmask, P);
    return s;
  }
};

// One forward step's gate math after the recurrent GEMM: gates activated in place, c and r = o tanh(c)
// written (r is h, or the input of the projection). c_prev: the state this step starts from (B, H).
template <typename T>
void gate_step(const Layer<T>& L, int t, const T* c_prev) {
  const int H = L.H, P = L.P, B = L.B;
  for (int b = 0; b < B; ++b) {
    T* g = L.G + (int64_t(t) * L.ld + b) * 4 * H;
    const int64_t row = (int64_t(t) * L.ld + b) * H;
    T *c = L.C + row, *tc = L.TC + row, *r = (L.R ? L.R : L.Y) + (int64_t(t) * L.ld + b) * (L.R ? H : P);
#pragma omp simd
    for (int j = 0; j < 3 * H; ++j) g[j] = sigmoid(g[j]);  // o, i, f
#pragma omp simd
    for (int j = 3 * H; j < 4 * H; ++j) g[j] = tanh_(g[j]);  // g
    const T* cp = c_prev + int64_t(b) * H;
#pragma omp simd
    for (int j = 0; j < H; ++j) {
      c[j] = g[2 * H + j] * cp[j] + g[H + j] * g[3 * H + j];  // c = f c_p + i g
      tc[j] = tanh_(c[j]);
      r[j] = g[j] * tc[j];  // h = o tanh(c)
    }
  }
}

// The rest of a forward step: the projection, and masked rows. h_prev (B, P), c_prev (B, H).
template <typename T>
void finish_step(const Layer<T>& L, int t, const T* h_prev, const T* c_prev, const Gemm<T>& proj) {
  const int H = L.H, P = L.P, B = L.B;
  if (L.R) proj(L.R + int64_t(t) * L.ld * H, L.Y + int64_t(t) * L.ld * P, T(0));  // y = W_hr h
  if (L.mask) {  // masked rows keep the previous state and output zeros
    for (int b = 0; b < B; ++b) {
      T* y = L.Y + (int64_t(t) * L.ld + b) * P;
      T* s = L.S + (int64_t(t) * L.ld + b) * P;
      T* c = L.C + (int64_t(t) * L.ld + b) * H;
      if (L.mask[int64_t(t) * L.ld + b]) {
        std::memcpy(s, y, sizeof(T) * P);
      } else {
        std::memcpy(s, h_prev + int64_t(b) * P, sizeof(T) * P);
        std::memcpy(c, c_prev + int64_t(b) * H, sizeof(T) * H);
        std::memset(y, 0, sizeof(T) * P);
      }
    }
  }
}

template <typename T>
void forward_loop(const Layer<T>& L, const T* h0, const T* c0, T* h_in) {
  const int B = L.B, H = L.H, P = L.P;
  const bool tile = tiled<T>(B, H, P);
  const Gemm<T> rec(tile ? nullptr : L.w_hh, B, 4 * H, P, true), proj(L.w_hr, B, P, H, true);
  std::unique_ptr<float[]> packed;
  if constexpr (std::is_same_v<T, float>) {
    if (tile) {
      packed.reset(new float[lstmkit_tile::gate_panels_size(H, P)]);
      lstmkit_tile::pack_gates(L.w_hh, H, P, packed.get());
    }
  }
  const T *h = h0, *c = c0;
  for (int k = 0; k < L.T_; ++k) {
    const int t = L.step(k);
    const T* x = h;
    if (L.hmask) {  // variational recurrent dropout on the h fed to the recurrent GEMM
      for (int64_t e = 0; e < int64_t(B) * P; ++e) h_in[e] = h[e] * L.hmask[e];
      x = h_in;
    }
    T* g = L.G + int64_t(t) * L.ld * 4 * H;
    if constexpr (std::is_same_v<T, float>) {
      if (tile) {  // GEMM and gate math in one pass over registers
        const int64_t row = int64_t(t) * L.ld * H;
        lstmkit_tile::forward_gates(x, B, P, H, packed.get(), g, L.C + row, L.TC + row, (L.R ? L.R : L.Y) + row, c);
      }
    }
    if (!tile) {
      rec(x, g, T(1));  // G_t += h_{t-1} W_hh^T
      gate_step(L, t, c);
    }
    finish_step(L, t, h, c, proj);
    h = L.S + int64_t(t) * L.ld * P;
    c = L.C + int64_t(t) * L.ld * H;
  }
}

Tensor internal(const Tensor& w) {  // (i, f, g, o) -> (o, i, f, g) along dim 0
  auto q = w.chunk(4, 0);
  return at::cat({q[3], q[0], q[1], q[2]}, 0).contiguous();
}

Tensor public_order(const Tensor& w) {  // (o, i, f, g) -> (i, f, g, o) along dim 0
  auto q = w.chunk(4, 0);
  return at::cat({q[1], q[2], q[3], q[0]}, 0);
}

// Returns [y (T,B,P), h_n (B,P), c_n (B,H)] and what backward needs: [G, C, TC, R, S, W_ih, W_hh].
std::vector<Tensor> lstm_forward(const Tensor& x_in, const Tensor& h0_in, const Tensor& c0_in,
                                 const Tensor& w_ih, const Tensor& w_hh, const c10::optional<Tensor>& b_ih,
                                 const c10::optional<Tensor>& b_hh, const c10::optional<Tensor>& w_hr,
                                 bool reverse, const c10::optional<Tensor>& mask,
                                 const c10::optional<Tensor>& hmask) {
  TORCH_CHECK(x_in.device().is_cpu(), "compiled LSTM kernel: expected CPU tensors");
  const Tensor x = x_in.contiguous(), h0 = h0_in.contiguous(), c0 = c0_in.contiguous();
  const int64_t T_ = x.size(0), B = x.size(1), H = w_hh.size(0) / 4, P = w_hh.size(1);
  const Tensor W_ih = internal(w_ih), W_hh = internal(w_hh);
  Tensor G = at::mm(x.view({T_ * B, -1}), W_ih.t()).view({T_, B, 4 * H});
  if (b_ih) G.add_(internal(b_hh ? *b_ih + *b_hh : *b_ih));  // not addmm: slower with a broadcast bias
  Tensor C = at::empty({T_, B, H}, x.options()), TC = at::empty_like(C);
  Tensor R = w_hr ? at::empty_like(C) : at::empty({0}, x.options());  // empty: no projection
  Tensor Y = at::empty({T_, B, P}, x.options());
  Tensor S = mask ? at::empty_like(Y) : Y;
  const Tensor hr = w_hr ? w_hr->contiguous() : Tensor();
  const Tensor m = mask ? mask->contiguous() : Tensor(), hm = hmask ? hmask->contiguous() : Tensor();
  Tensor h_in = at::empty({B, P}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_forward", [&] {
    Layer<scalar_t> L{int(T_), int(B), int(H), int(P), reverse,
                      G.data_ptr<scalar_t>(), C.data_ptr<scalar_t>(), TC.data_ptr<scalar_t>(),
                      w_hr ? R.data_ptr<scalar_t>() : nullptr, S.data_ptr<scalar_t>(), Y.data_ptr<scalar_t>(),
                      W_hh.data_ptr<scalar_t>(), w_hr ? hr.data_ptr<scalar_t>() : nullptr,
                      mask ? m.data_ptr<bool>() : nullptr, hmask ? hm.data_ptr<scalar_t>() : nullptr};
    L.ld = int(B);
    const scalar_t *hp = h0.data_ptr<scalar_t>(), *cp = c0.data_ptr<scalar_t>();
    scalar_t* hi = h_in.data_ptr<scalar_t>();
    at::parallel_for(0, B, kSliceRows, [&](int64_t b0, int64_t b1) {
      forward_loop(L.slice(int(b0), int(b1 - b0)), hp + b0 * P, cp + b0 * H, hi + b0 * P);
    });
  });
  const int64_t last = reverse ? 0 : T_ - 1;
  Tensor h_n = T_ ? S[last].clone() : h0.clone(), c_n = T_ ? C[last].clone() : c0.clone();
  return {Y, h_n, c_n, G, C, TC, R, S, W_ih, W_hh};
}

// One backward step for the rows that ran (mask true), after dr (B, H) = the gradient reaching
// o tanh(c): fills dG_t and updates dc in place to dc_{t-1} (see fused.py's docstring).
template <typename T>
void backward_step(const Layer<T>& L, int t, const T* c_prev, const T* dr, T* dc, T* dG) {
  const int H = L.H, B = L.B;
  for (int b = 0; b < B; ++b) {
    if (L.mask && !L.mask[int64_t(t) * L.ld + b]) {
      std::memset(dG + int64_t(b) * 4 * H, 0, sizeof(T) * 4 * H);
      continue;
    }
    const int64_t row = (int64_t(t) * L.ld + b) * H;
    const T *g = L.G + row * 4, *tc = L.TC + row, *cp = c_prev + int64_t(b) * H, *d = dr + int64_t(b) * H;
    T *dg = dG + int64_t(b) * 4 * H, *dcb = dc + int64_t(b) * H;
#pragma omp simd
    for (int j = 0; j < H; ++j) {
      const T o = g[j], i = g[H + j], f = g[2 * H + j], gc = g[3 * H + j], tau = tc[j];
      dg[j] = d[j] * tau * o * (T(1) - o);                    // d(o_pre) = dr L
      const T dcj = dcb[j] + d[j] * o * (T(1) - tau * tau);   // dc += dr K
      dg[H + j] = dcj * gc * i * (T(1) - i);                  // dc M
      dg[2 * H + j] = dcj * cp[j] * f * (T(1) - f);
      dg[3 * H + j] = dcj * i * (T(1) - gc * gc);
      dcb[j] = dcj * f;                                       // dc_{t-1} = dc f
    }
  }
}

// The backward time loop: fills dG (and DH with a projection); dh, dc hold dh_n, dc_n on entry and
// the gradients of h0, c0 on return. dY (T, B, P); work: dh_cur (B, P), dr (B, H), dh_next (B, P).
template <typename T>
void backward_loop(const Layer<T>& L, const T* dY, const T* c0, T* dG, T* DH, T* dh, T* dc, T* dh_cur,
                   T* dr, T* dh_next) {
  const int B = L.B, H = L.H, P = L.P;
  const int64_t BP = int64_t(B) * P;
  const bool tile = tiled<T>(B, H, P);
  const Gemm<T> rec(tile ? nullptr : L.w_hh, B, P, 4 * H, false), proj(L.w_hr, B, H, P, false);
  std::unique_ptr<float[]> packed;
  if constexpr (std::is_same_v<T, float>) {
    if (tile) {
      packed.reset(new float[lstmkit_tile::row_panels_size(4 * H, P)]);
      lstmkit_tile::pack_rows(L.w_hh, 4 * H, P, packed.get());
    }
  }
  for (int k = L.T_ - 1; k >= 0; --k) {
    const int t = L.step(k);
    const T* dy = dY + int64_t(t) * L.ld * P;
    for (int64_t e = 0; e < BP; ++e) dh_cur[e] = dh[e] + dy[e];
    if (L.mask) {  // rows that did not run: no output gradient, the carry passes through
      for (int b = 0; b < B; ++b)
        if (!L.mask[int64_t(t) * L.ld + b]) std::memset(dh_cur + int64_t(b) * P, 0, sizeof(T) * P);
    }
    const T* d = dh_cur;
    if (L.R) {  // dr = dh W_hr
      std::memcpy(DH + int64_t(t) * L.ld * P, dh_cur, sizeof(T) * BP);
      proj(dh_cur, dr, T(0));
      d = dr;
    }
    const T* c_prev = k == 0 ? c0 : L.C + int64_t(L.step(k - 1)) * L.ld * H;
    T* dGt = dG + int64_t(t) * L.ld * 4 * H;
    backward_step(L, t, c_prev, d, dc, dGt);
    if constexpr (std::is_same_v<T, float>) {
      if (tile) lstmkit_tile::gemm(dGt, 4 * H, B, 4 * H, P, packed.get(), dh_next, P);
    }
    if (!tile) rec(dGt, dh_next, T(0));  // dh_{t-1} = dG_t W_hh
    if (L.hmask)
      for (int64_t e = 0; e < BP; ++e) dh_next[e] *= L.hmask[e];
    if (L.mask) {
      for (int b = 0; b < B; ++b)
        if (!L.mask[int64_t(t) * L.ld + b]) std::memcpy(dh_next + int64_t(b) * P, dh + int64_t(b) * P, sizeof(T) * P);
    }
    std::memcpy(dh, dh_next, sizeof(T) * BP);
  }
}

// The h each step's recurrent GEMM saw, h_{t-1} (times the recurrent-dropout mask): (T, B, P).
Tensor previous_states(const Tensor& S, const Tensor& h0, bool reverse, const c10::optional<Tensor>& hmask) {
  const int64_t T_ = S.size(0);
  Tensor prev = reverse ? at::cat({S.slice(0, 1, T_), h0.unsqueeze(0)}, 0)
                        : at::cat({h0.unsqueeze(0), S.slice(0, 0, T_ - 1)}, 0);
  return hmask ? prev * *hmask : prev;
}

// Returns [dx, dh0, dc0, dw_ih, dw_hh, db, dw_hr] in public gate order; db, dw_hr empty when absent.
std::vector<Tensor> lstm_backward(const Tensor& dY_in, const Tensor& dh_n, const Tensor& dc_n, const Tensor& x,
                                  const Tensor& h0, const Tensor& c0, const c10::optional<Tensor>& w_hr,
                                  const Tensor& G, const Tensor& C, const Tensor& TC,
                                  const c10::optional<Tensor>& R, const Tensor& S, const Tensor& W_ih,
                                  const Tensor& W_hh, bool reverse, const c10::optional<Tensor>& mask,
                                  const c10::optional<Tensor>& hmask, bool has_bias) {
  const Tensor dY = dY_in.contiguous();
  const int64_t T_ = x.size(0), B = x.size(1), H = W_hh.size(0) / 4, P = W_hh.size(1);
  Tensor dh = dh_n.contiguous().clone(), dc = dc_n.contiguous().clone();
  Tensor dG = at::empty_like(G), DH = w_hr ? at::empty_like(S) : Tensor();
  Tensor dh_cur = at::empty_like(dh), dh_next = at::empty_like(dh), dr = at::empty_like(dc);
  const Tensor hr = w_hr ? w_hr->contiguous() : Tensor();
  const Tensor m = mask ? mask->contiguous() : Tensor(), hm = hmask ? hmask->contiguous() : Tensor();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_backward", [&] {
    using T = scalar_t;
    Layer<T> L{int(T_), int(B), int(H), int(P), reverse, G.data_ptr<T>(), C.data_ptr<T>(), TC.data_ptr<T>(),
               R ? R->data_ptr<T>() : nullptr, S.data_ptr<T>(), nullptr, W_hh.data_ptr<T>(),
               w_hr ? hr.data_ptr<T>() : nullptr, mask ? m.data_ptr<bool>() : nullptr,
               hmask ? hm.data_ptr<T>() : nullptr};
    L.ld = int(B);
    const Tensor c0c = c0.contiguous();
    T *dh_p = dh.data_ptr<T>(), *dc_p = dc.data_ptr<T>(), *DH_p = w_hr ? DH.data_ptr<T>() : nullptr;
    at::parallel_for(0, B, kSliceRows, [&](int64_t b0, int64_t b1) {
      const int64_t p = b0 * P, h = b0 * H;
      backward_loop(L.slice(int(b0), int(b1 - b0)), dY.data_ptr<T>() + p, c0c.data_ptr<T>() + h,
                    dG.data_ptr<T>() + 4 * h, DH_p ? DH_p + p : nullptr, dh_p + p, dc_p + h,
                    dh_cur.data_ptr<T>() + p, dr.data_ptr<T>() + h, dh_next.data_ptr<T>() + p);
    });
  });
  const Tensor dG2 = dG.view({T_ * B, 4 * H});
  Tensor dx = at::mm(dG2, W_ih).view_as(x);
  Tensor dw_ih = public_order(at::mm(dG2.t(), x.reshape({T_ * B, -1})));
  Tensor prev = previous_states(S, h0, reverse, hmask);
  Tensor dw_hh = public_order(at::mm(dG2.t(), prev.view({T_ * B, P})));
  Tensor db = has_bias ? public_order(dG2.sum(0)) : at::empty({0}, x.options());
  Tensor dw_hr = w_hr ? at::mm(DH.view({T_ * B, P}).t(), R->view({T_ * B, H})) : at::empty({0}, x.options());
  return {dx, dh, dc, dw_ih, dw_hh, db, dw_hr};
}

}  // namespace

TORCH_LIBRARY(lstmkit_compiled, m) {
  m.def("lstm_forward(Tensor x, Tensor h0, Tensor c0, Tensor w_ih, Tensor w_hh, Tensor? b_ih, "
        "Tensor? b_hh, Tensor? w_hr, bool reverse, Tensor? mask, Tensor? hmask) -> Tensor[]",
        &lstm_forward);
  m.def("lstm_backward(Tensor dY, Tensor dh_n, Tensor dc_n, Tensor x, Tensor h0, Tensor c0, "
        "Tensor? w_hr, Tensor G, Tensor C, Tensor TC, Tensor? R, Tensor S, Tensor W_ih, Tensor W_hh, "
        "bool reverse, Tensor? mask, Tensor? hmask, bool has_bias) -> Tensor[]",
        &lstm_backward);
}
