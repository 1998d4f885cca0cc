// lstmkit's compiled LSTM kernel: one layer and direction, the whole time loop in one native call.
//
// The math is `kernels/fused.py`'s, line for line (see its docstring for the backward equations):
// internal gate order (o, i, f, g); the input projection of all steps is one GEMM into a (T, B, 4H)
// buffer that then holds the activated gates; each step adds h_{t-1} W_hh^T into its slice with one
// BLAS call and applies the gate math in plain loops the compiler vectorises. Backward: per step the
// pointwise gate derivatives and one GEMM dG_t W_hh; dx and the weight gradients are one GEMM each
// over all steps. What Python drove as ~10 torch calls per step is here one BLAS call and one loop.
//
// A second cell (GRU, RNN) is a second pair of step bodies (`*_step`) next to these: the buffers,
// the BLAS wrapper, the activations and the driving loops' shape stay the same.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <dlfcn.h>

#include <memory>

// The Fortran BLAS interface: MKL (x86 wheels) and OpenBLAS (other wheels) both export it from torch.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
            const int*, const float*, const int*, const float*, float*, const int*);
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*,
            const int*, const double*, const int*, const double*, double*, const int*);
}

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

template <typename T>
bool tiled(int B, int H, int P) {
  return std::is_same_v<T, float> && lstmkit_tile::available() && int64_t(B) * 4 * H * P <= kTileMaxWork;
}

// MKL's packed-GEMM entry points, when torch's BLAS is MKL (x86 wheels); looked
// up at run time so the library also builds and runs against other BLAS builds.
struct Mkl {
  using pack_size_fn = size_t (*)(int, int, int, int);
  using pack_fn = void (*)(int, int, int, int, int, int, float, const float*, int, float*);
  using compute_fn = void (*)(int, int, int, int, int, int, const float*, int, const float*, int, float,
                              float*, int);
  pack_size_fn pack_size = nullptr;
  pack_fn pack = nullptr;
  compute_fn compute = nullptr;
  Mkl() {
    void* lib = dlopen("libtorch_cpu.so", RTLD_LAZY | RTLD_NOLOAD);
    if (!lib) return;
    pack_size = reinterpret_cast<pack_size_fn>(dlsym(lib, "cblas_sgemm_pack_get_size"));
    pack = reinterpret_cast<pack_fn>(dlsym(lib, "cblas_sgemm_pack"));
    compute = reinterpret_cast<compute_fn>(dlsym(lib, "cblas_sgemm_compute"));
  }
  bool packs() const { return pack_size && pack && compute; }
};

const Mkl& mkl() {
  static const Mkl m;
  return m;
}

// Row-major C (n, m) = beta C + A (n, k) op(W), with W row-major: op(W) = W^T for W (m, k) when
// `transposed`, else W (k, m). Column-major BLAS sees C^T = op(W)^T A^T, hence the swapped roles.
// The same W serves every step of a call, so in float with MKL and a small batch it is packed once
// (MKL's packed GEMM): at B=1 that halved the step's time; at B=32 packing measured slower.
template <typename T>
struct Gemm {
  const T* w;
  int n, m, k;
  bool transposed;
  // Not a std::vector: MKL asks for megabytes (7.9 MB for a 200x50 W_hh) of which packing writes a
  // small part, and zero-filling them cost about 2 ms per call, which dominated batch-1 inference.
  std::unique_ptr<float[]> packed;

  Gemm(const T* w_, int n_, int m_, int k_, bool transposed_)
      : w(w_), n(n_), m(m_), k(k_), transposed(transposed_) {
    if constexpr (std::is_same_v<T, float>) {
      if (w && mkl().packs() && n > 0 && n <= kPackMaxBatch) {
        packed.reset(new float[mkl().pack_size(kAMatrix, m, n, k) / sizeof(float) + 1]);  // uninitialised
        mkl().pack(kColMajor, kAMatrix, transposed ? kTrans : kNoTrans, m, n, k, 1.0f, w, ldw(),
                   packed.get());
      }
    }
  }
  int ldw() const { return transposed ? k : m; }
  void operator()(const T* a, T* c, T beta) const {
    if constexpr (std::is_same_v<T, float>) {
      if (packed) {
        mkl().compute(kColMajor, kPacked, kNoTrans, m, n, k, packed.get(), ldw(), a, k, beta, c, m);
        return;
      }
    }
    const char tw = transposed ? 'T' : 'N', ta = 'N';
    const int ld = ldw();
    const T one = 1;
    if constexpr (std::is_same_v<T, float>) {
      sgemm_(&tw, &ta, &m, &n, &k, &one, w, &ld, a, &k, &beta, c, &m);
    } else {
      dgemm_(&tw, &ta, &m, &n, &k, &one, w, &ld, a, &k, &beta, c, &m);
    }
  }
  // CBLAS constants (mkl_cblas.h)
  static constexpr int kPackMaxBatch = 4;
  static constexpr int kColMajor = 102, kNoTrans = 111, kTrans = 112, kPacked = 151, kAMatrix = 161;
};

// exp by range reduction, x = n ln2 + r with |r| <= ln2 / 2, and a polynomial in r; branch-free so
// the loops calling it vectorise. float: Cephes' expf polynomial (about 1 ulp); double: Taylor to
// r^12 (truncation below 1e-15 relative). Inputs are clamped to the finite range.
inline float exp_poly(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + magic) - magic;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * __builtin_bit_cast(float, (static_cast<int32_t>(n) + 127) << 23);  // 2^n
}

inline double exp_poly(double x) {
  x = x < -708.0 ? -708.0 : (x > 709.0 ? 709.0 : x);
  const double magic = 6755399441055744.0;  // 1.5 * 2^52
  const double n = (x * 1.4426950408889634 + magic) - magic;
  const double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  double p = 1.0 / 479001600;  // 1/12!, then Horner down to 1/0!
  p = p * r + 1.0 / 39916800;
  p = p * r + 1.0 / 3628800;
  p = p * r + 1.0 / 362880;
  p = p * r + 1.0 / 40320;
  p = p * r + 1.0 / 5040;
  p = p * r + 1.0 / 720;
  p = p * r + 1.0 / 120;
  p = p * r + 1.0 / 24;
  p = p * r + 1.0 / 6;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  return p * __builtin_bit_cast(double, (static_cast<int64_t>(n) + 1023) << 52);  // 2^n
}

template <typename T>
inline T sigmoid(T x) { return T(1) / (T(1) + exp_poly(-x)); }

template <typename T>
inline T tanh_(T x) { return T(1) - T(2) / (T(1) + exp_poly(T(2) * x)); }

// Everything one direction's loop reads and writes; pointers into contiguous (T, B, ·) buffers.
template <typename T>
struct Layer {
  int T_, B, H, P;
  bool reverse;
  T *G, *C, *TC, *R, *S, *Y;  // (T, B, 4H), (T, B, H) x3 (R null without projection), (T, B, P) x2
  const T *w_hh, *w_hr;        // (4H, P) internal order; (P, H) or null
  const bool* mask;            // (T, B) or null
  const T* hmask;              // (B, P) or null
  int step(int k) const { return reverse ? T_ - 1 - k : k; }
};

// One forward step's gate math after the recurrent GEMM: gates activated in place, c and r = o tanh(c)
// written (r is h, or the input of the projection). c_prev: the state this step starts from (B, H).
template <typename T>
void gate_step(const Layer<T>& L, int t, const T* c_prev) {
  const int H = L.H, P = L.P, B = L.B;
  for (int b = 0; b < B; ++b) {
    T* g = L.G + (int64_t(t) * B + b) * 4 * H;
    const int64_t row = (int64_t(t) * B + b) * H;
    T *c = L.C + row, *tc = L.TC + row, *r = (L.R ? L.R : L.Y) + (int64_t(t) * B + b) * (L.R ? H : P);
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
  if (L.R) proj(L.R + int64_t(t) * B * H, L.Y + int64_t(t) * B * P, T(0));  // y = W_hr h
  if (L.mask) {  // masked rows keep the previous state and output zeros
    for (int b = 0; b < B; ++b) {
      T* y = L.Y + (int64_t(t) * B + b) * P;
      T* s = L.S + (int64_t(t) * B + b) * P;
      T* c = L.C + (int64_t(t) * B + b) * H;
      if (L.mask[int64_t(t) * B + b]) {
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
    T* g = L.G + int64_t(t) * B * 4 * H;
    if constexpr (std::is_same_v<T, float>) {
      if (tile) {  // GEMM and gate math in one pass over registers
        const int64_t row = int64_t(t) * B * H;
        lstmkit_tile::forward_gates(x, B, P, H, packed.get(), g, L.C + row, L.TC + row, (L.R ? L.R : L.Y) + row, c);
      }
    }
    if (!tile) {
      rec(x, g, T(1));  // G_t += h_{t-1} W_hh^T
      gate_step(L, t, c);
    }
    finish_step(L, t, h, c, proj);
    h = L.S + int64_t(t) * B * P;
    c = L.C + int64_t(t) * B * H;
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
    forward_loop(L, h0.data_ptr<scalar_t>(), c0.data_ptr<scalar_t>(), h_in.data_ptr<scalar_t>());
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
    if (L.mask && !L.mask[int64_t(t) * B + b]) {
      std::memset(dG + int64_t(b) * 4 * H, 0, sizeof(T) * 4 * H);
      continue;
    }
    const int64_t row = (int64_t(t) * B + b) * H;
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
    const T* dy = dY + int64_t(t) * BP;
    for (int64_t e = 0; e < BP; ++e) dh_cur[e] = dh[e] + dy[e];
    if (L.mask) {  // rows that did not run: no output gradient, the carry passes through
      for (int b = 0; b < B; ++b)
        if (!L.mask[int64_t(t) * B + b]) std::memset(dh_cur + int64_t(b) * P, 0, sizeof(T) * P);
    }
    const T* d = dh_cur;
    if (L.R) {  // dr = dh W_hr
      std::memcpy(DH + int64_t(t) * BP, dh_cur, sizeof(T) * BP);
      proj(dh_cur, dr, T(0));
      d = dr;
    }
    const T* c_prev = k == 0 ? c0 : L.C + int64_t(L.step(k - 1)) * B * H;
    T* dGt = dG + int64_t(t) * B * 4 * H;
    backward_step(L, t, c_prev, d, dc, dGt);
    if constexpr (std::is_same_v<T, float>) {
      if (tile) lstmkit_tile::gemm(dGt, 4 * H, B, 4 * H, P, packed.get(), dh_next, P);
    }
    if (!tile) rec(dGt, dh_next, T(0));  // dh_{t-1} = dG_t W_hh
    if (L.hmask)
      for (int64_t e = 0; e < BP; ++e) dh_next[e] *= L.hmask[e];
    if (L.mask) {
      for (int b = 0; b < B; ++b)
        if (!L.mask[int64_t(t) * B + b]) std::memcpy(dh_next + int64_t(b) * P, dh + int64_t(b) * P, sizeof(T) * P);
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
    backward_loop(L, dY.data_ptr<T>(), c0.contiguous().data_ptr<T>(), dG.data_ptr<T>(),
                  w_hr ? DH.data_ptr<T>() : nullptr, dh.data_ptr<T>(), dc.data_ptr<T>(), dh_cur.data_ptr<T>(),
                  dr.data_ptr<T>(), dh_next.data_ptr<T>());
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
