// lstmkit's compiled scan for minLSTM and minGRU: one layer and direction, gates and recurrence fused.
//
// Input: k = W x_t + b for all steps (T, B, n·H), blocks (f, i, h) for minLSTM, (z, h) for minGRU
// (`cells/min_rnn.py`). Forward is one pass over time that turns each step's k into the coefficients
// of h_t = a_t ⊙ h_{t-1} + b_t and applies them; backward is one reverse pass that carries dh and
// writes dk. Both run over B·H independent lanes, vectorised along H and split over threads by
// (batch row, chunk of H): T·B·H elements each way instead of a dozen torch passes over (T, B, H).
//
// The coefficients come from exponentials of non-positive arguments only, so nothing overflows:
//   minLSTM: with u = -k_f, v = -k_i, M = max(0, u, v),
//            n = e^{-M} + e^{u-M} ∝ 1/σ(k_f),  d = e^{-M} + e^{v-M} ∝ 1/σ(k_i)
//            a = f/(f+i) = d/(n+d),  i' = n/(n+d),  b = i' g(k_h)
//   minGRU:  a = σ(-k_z), z = σ(k_z), b = z g(k_h)
//   g(v) = v + 1/2 for v ≥ 0, σ(v) otherwise.
// a ∈ [0, 1] and 0 ≤ b ≤ max(g), so the sequential recurrence is bounded: |h_t| ≤ max(|h_0|, max b).
// Backward, with p = i' (minLSTM) or z (minGRU) and da = dh_t h_{t-1}, db = dh_t:
//   minLSTM: q = a p (db g - da),  dk_f = -q σ(-k_f),  dk_i = q σ(-k_i),  dk_h = db p g'
//            (p σ(-k_f) and a σ(-k_i) are formed as e^{u-M}/(n+d), e^{v-M}/(n+d): n+d ≥ 1)
//   minGRU:  dk_z = a p (db g - da),  dk_h = db p g'
// and dh_{t-1} = a_t dh_t. Masked steps keep the state and output zeros (their dk is zero).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GLIBC__)
// glibc's libmvec has SIMD variants of exp; declaring them lets the compiler vectorise the lane
// loops below instead of calling exp once per element (the loops are dominated by exponentials).
extern "C" {
#pragma omp declare simd notinbranch
float expf(float);
#pragma omp declare simd notinbranch
double exp(double);
}
#endif

namespace {

inline float ex(float v) { return expf(v); }
inline double ex(double v) { return exp(v); }

constexpr int64_t kChunk = 256;  // lanes of H per work item: long enough to vectorise, short to split

// One step's coefficients for lanes [j0, j0 + len) of a row of k, and what backward needs.
// Three loops, so that each vectorises: the compiler does not if-convert a loop that calls exp,
// so the selects live in the loops before and after the one with the exponentials.
template <typename T, bool LSTM>
struct Lanes {
  // sf = i' σ(-k_f) = e^{u-M}/(n+d) and si = a σ(-k_i) = e^{v-M}/(n+d) (minLSTM): the products backward
  // needs, formed without dividing by n or d alone, which underflow to 0 where the other gate dominates.
  T a[kChunk], p[kChunk], g[kChunk], gp[kChunk], sf[kChunk], si[kChunk];
  T e[4 * kChunk];  // exponents, then their exponentials: blocks (0 or -M, u-M, v-M, min(k_h, 0))

  void compute(const T* k, int64_t H, int64_t j0, int64_t len) {
    const T* kh = k + (LSTM ? 2 : 1) * H + j0;
    const T* k0 = k + j0;
    const T* k1 = k + H + j0;
    T* e0 = e;
    T* e1 = e + kChunk;
    T* e2 = e + 2 * kChunk;
    T* e3 = e + 3 * kChunk;
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) {
      if (LSTM) {
        const T u = -k0[j], v = -k1[j];
        const T uv = u > v ? u : v;  // values, not std::max's references: those do not vectorise
        const T M = uv > T(0) ? uv : T(0);
        e0[j] = -M;
        e1[j] = u - M;
        e2[j] = v - M;
      } else {
        e0[j] = -std::abs(k0[j]);
      }
      e3[j] = kh[j] < T(0) ? kh[j] : T(0);
    }
    exponentials(len);
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) {
      const T sg = e3[j] / (T(1) + e3[j]);
      g[j] = kh[j] >= T(0) ? kh[j] + T(0.5) : sg;
      gp[j] = kh[j] >= T(0) ? T(1) : sg * (T(1) - sg);
      if (LSTM) {
        const T n = e0[j] + e1[j], d = e0[j] + e2[j], s = n + d;
        a[j] = d / s;
        p[j] = n / s;
        sf[j] = e1[j] / s;
        si[j] = e2[j] / s;
      } else {
        const T lo = e0[j] / (T(1) + e0[j]), hi = T(1) / (T(1) + e0[j]);  // σ(-|k_z|), σ(|k_z|)
        a[j] = k0[j] >= T(0) ? lo : hi;
        p[j] = k0[j] >= T(0) ? hi : lo;
      }
    }
  }

  void exponentials(int64_t len) {
    for (int blk = 0; blk < 4; ++blk) {
      if (!LSTM && (blk == 1 || blk == 2)) continue;
      T* x = e + blk * kChunk;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) x[j] = ex(x[j]);
    }
  }
};

struct Shape {
  int64_t T_, B, H, n;  // steps, batch, hidden, blocks per row of k
  bool reverse;
  int64_t step(int64_t s) const { return reverse ? T_ - 1 - s : s; }  // the s-th step in time order
  int64_t row(int64_t t, int64_t b) const { return t * B + b; }
};

// Lanes [j0, j1) of batch row b, all steps: h (B, H) starts as h0 and ends as h_n.
template <typename T, bool LSTM>
void forward_lanes(const Shape& S, const T* k, const bool* mask, T* y, T* states, T* h, int64_t b,
                   int64_t j0, int64_t j1) {
  const int64_t H = S.H, len = j1 - j0;
  T* hb = h + b * H + j0;
  Lanes<T, LSTM> c;
  for (int64_t s = 0; s < S.T_; ++s) {
    const int64_t r = S.row(S.step(s), b);
    T* yt = y + r * H + j0;
    if (mask && !mask[r]) {
      std::fill(yt, yt + len, T(0));
    } else {
      c.compute(k + r * S.n * H, H, j0, len);
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) {
        hb[j] = c.a[j] * hb[j] + c.p[j] * c.g[j];  // h = a h + b
        yt[j] = hb[j];
      }
    }
    if (states) std::copy(hb, hb + len, states + r * H + j0);
  }
}

// The reverse pass over lanes [j0, j1) of batch row b: dh (B, H) starts as dh_n and ends as dh_0.
template <typename T, bool LSTM>
void backward_lanes(const Shape& S, const T* dy, const T* k, const T* states, const T* h0, const bool* mask,
                    T* dk, T* dh, int64_t b, int64_t j0, int64_t j1) {
  const int64_t H = S.H, len = j1 - j0;
  T* g = dh + b * H + j0;
  Lanes<T, LSTM> c;
  for (int64_t s = S.T_ - 1; s >= 0; --s) {
    const int64_t r = S.row(S.step(s), b);
    T* dkt = dk + r * S.n * H + j0;
    if (mask && !mask[r]) {
      for (int64_t blk = 0; blk < S.n; ++blk) std::fill(dkt + blk * H, dkt + blk * H + len, T(0));
      continue;
    }
    c.compute(k + r * S.n * H, H, j0, len);
    const T* dyt = dy + r * H + j0;
    const T* prev = (s == 0 ? h0 + b * H : states + S.row(S.step(s - 1), b) * H) + j0;  // h_{t-1}
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) {
      const T d = g[j] + dyt[j];  // dL/dh_t
      const T X = d * c.g[j] - d * prev[j];  // db g - da
      if (LSTM) {
        dkt[j] = -c.a[j] * c.sf[j] * X;
        dkt[H + j] = c.p[j] * c.si[j] * X;
        dkt[2 * H + j] = d * c.p[j] * c.gp[j];
      } else {
        dkt[j] = c.a[j] * c.p[j] * X;
        dkt[H + j] = d * c.p[j] * c.gp[j];
      }
      g[j] = c.a[j] * d;
    }
  }
}

// Run fn(b, j0, j1) over all (batch row, chunk of H) work items, split over torch's threads.
template <typename F>
void over_lanes(int64_t B, int64_t H, F fn) {
  const int64_t chunks = (H + kChunk - 1) / kChunk;
  at::parallel_for(0, B * chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t w = begin; w < end; ++w) {
      const int64_t j0 = (w % chunks) * kChunk;
      fn(w / chunks, j0, std::min(H, j0 + kChunk));
    }
  });
}

Shape shape_of(const at::Tensor& k, const at::Tensor& h0, bool lstm, bool reverse) {
  TORCH_CHECK(k.dim() == 3 && h0.dim() == 2, "scan: k must be (T, B, n*H) and h0 (B, H)");
  const int64_t n = lstm ? 3 : 2, H = h0.size(1);
  TORCH_CHECK(k.size(2) == n * H && k.size(1) == h0.size(0), "scan: k and h0 do not match");
  return {k.size(0), k.size(1), H, n, reverse};
}

c10::optional<at::Tensor> contiguous(const c10::optional<at::Tensor>& t) {
  return t ? c10::optional<at::Tensor>(t->contiguous()) : c10::nullopt;
}

const bool* mask_ptr(const c10::optional<at::Tensor>& mask) {
  return mask ? mask->data_ptr<bool>() : nullptr;
}

// Returns (y (T, B, H), h_n (B, H), states (T, B, H): h_t of every step where a mask is given, else
// empty, since y is then the states).
std::vector<at::Tensor> scan_forward(const at::Tensor& k_, const at::Tensor& h0,
                                     const c10::optional<at::Tensor>& mask_, bool lstm, bool reverse) {
  const at::Tensor k = k_.contiguous();
  const c10::optional<at::Tensor> mask = contiguous(mask_);
  const Shape S = shape_of(k, h0, lstm, reverse);
  at::Tensor y = at::empty({S.T_, S.B, S.H}, k.options());
  at::Tensor h = h0.contiguous().clone();
  at::Tensor states = mask ? at::empty_like(y) : at::empty({0}, k.options());
  AT_DISPATCH_FLOATING_TYPES(k.scalar_type(), "scan_forward", [&] {
    const scalar_t* kp = k.data_ptr<scalar_t>();
    scalar_t *yp = y.data_ptr<scalar_t>(), *hp = h.data_ptr<scalar_t>();
    scalar_t* sp = mask ? states.data_ptr<scalar_t>() : nullptr;
    const bool* mp = mask_ptr(mask);
    over_lanes(S.B, S.H, [&](int64_t b, int64_t j0, int64_t j1) {
      if (lstm) forward_lanes<scalar_t, true>(S, kp, mp, yp, sp, hp, b, j0, j1);
      else forward_lanes<scalar_t, false>(S, kp, mp, yp, sp, hp, b, j0, j1);
    });
  });
  return {y, h, states};
}

// Returns (dk (T, B, n*H), dh0 (B, H)); `states` is forward's states, or its y where no mask was given.
std::vector<at::Tensor> scan_backward(const at::Tensor& dy_, const at::Tensor& dh_n, const at::Tensor& k_,
                                      const at::Tensor& states_, const at::Tensor& h0_,
                                      const c10::optional<at::Tensor>& mask_, bool lstm, bool reverse) {
  const at::Tensor k = k_.contiguous(), dy = dy_.contiguous(), states = states_.contiguous();
  const at::Tensor h0 = h0_.contiguous();
  const c10::optional<at::Tensor> mask = contiguous(mask_);
  const Shape S = shape_of(k, h0, lstm, reverse);
  at::Tensor dk = at::empty_like(k);
  at::Tensor dh = dh_n.contiguous().clone();
  AT_DISPATCH_FLOATING_TYPES(k.scalar_type(), "scan_backward", [&] {
    const scalar_t *kp = k.data_ptr<scalar_t>(), *dyp = dy.data_ptr<scalar_t>();
    const scalar_t *sp = states.data_ptr<scalar_t>(), *h0p = h0.data_ptr<scalar_t>();
    scalar_t *dkp = dk.data_ptr<scalar_t>(), *dhp = dh.data_ptr<scalar_t>();
    const bool* mp = mask_ptr(mask);
    over_lanes(S.B, S.H, [&](int64_t b, int64_t j0, int64_t j1) {
      if (lstm) backward_lanes<scalar_t, true>(S, dyp, kp, sp, h0p, mp, dkp, dhp, b, j0, j1);
      else backward_lanes<scalar_t, false>(S, dyp, kp, sp, h0p, mp, dkp, dhp, b, j0, j1);
    });
  });
  return {dk, dh};
}

}  // namespace

// Declared here, implemented for the CPU: the autograd formula (scan_backward) is registered from
// Python (`kernels/scan_compiled.py`), so eager autograd and jit traces see one op.
TORCH_LIBRARY_FRAGMENT(lstmkit_compiled, m) {
  m.def("scan_forward(Tensor k, Tensor h0, Tensor? mask, bool lstm, bool reverse) -> Tensor[]");
  m.def("scan_backward(Tensor dy, Tensor dh_n, Tensor k, Tensor states, Tensor h0, Tensor? mask, bool lstm, "
        "bool reverse) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(lstmkit_compiled, CPU, m) {
  m.impl("scan_forward", &scan_forward);
  m.impl("scan_backward", &scan_backward);
}
