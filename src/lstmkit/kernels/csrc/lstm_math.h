// The BLAS wrapper and the scalar activations every compiled kernel file shares (lstm.cpp,
// single_state.cpp, variants.cpp); everything is in an anonymous namespace, so each file has its own copy.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>

#include <dlfcn.h>

// The Fortran BLAS interface: MKL (x86 wheels) and OpenBLAS (other wheels) both export it from torch.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
            const int*, const float*, const int*, const float*, float*, const int*);
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*,
            const int*, const double*, const int*, const double*, double*, const int*);
}

namespace {

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
// lda, ldc: the row strides of A and C when they are blocks of wider rows (the GRU's gates); k and m
// by default.
template <typename T>
struct Gemm {
  const T* w;
  int n, m, k, lda, ldc;
  bool transposed;
  // Not a std::vector: MKL asks for megabytes (7.9 MB for a 200x50 W_hh) of which packing writes a
  // small part, and zero-filling them cost about 2 ms per call, which dominated batch-1 inference.
  std::unique_ptr<float[]> packed;

  Gemm(const T* w_, int n_, int m_, int k_, bool transposed_, int lda_ = -1, int ldc_ = -1)
      : w(w_), n(n_), m(m_), k(k_), lda(lda_ < 0 ? k_ : lda_), ldc(ldc_ < 0 ? m_ : ldc_), transposed(transposed_) {
    if constexpr (std::is_same_v<T, float>) {
      if (w && mkl().packs() && n > 0 && n <= kPackMaxBatch && m > 0 && k > 0) {
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
        mkl().compute(kColMajor, kPacked, kNoTrans, m, n, k, packed.get(), ldw(), a, lda, beta, c, ldc);
        return;
      }
    }
    const char tw = transposed ? 'T' : 'N', ta = 'N';
    const int ld = ldw();
    const T one = 1;
    if constexpr (std::is_same_v<T, float>) {
      sgemm_(&tw, &ta, &m, &n, &k, &one, w, &ld, a, &lda, &beta, c, &ldc);
    } else {
      dgemm_(&tw, &ta, &m, &n, &k, &one, w, &ld, a, &lda, &beta, c, &ldc);
    }
  }
  // CBLAS constants (mkl_cblas.h)
  static constexpr int kPackMaxBatch = 4;
  static constexpr int kColMajor = 102, kNoTrans = 111, kTrans = 112, kPacked = 151, kAMatrix = 161;
};

// exp by range reduction, x = n ln2 + r with |r| <= ln2 / 2, and a polynomial in r; branch-free so
// the loops calling it vectorise. float: Cephes' expf polynomial (about 1 ulp); double: Taylor to
// r^12 (truncation below 1e-15 relative). Inputs are clamped to the finite range. Forced inline:
// inside variants.cpp's many activation loops GCC otherwise calls them and leaves the loops scalar.
#define LSTMKIT_INLINE inline __attribute__((always_inline))

LSTMKIT_INLINE float exp_poly(float x) {
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

LSTMKIT_INLINE double exp_poly(double x) {
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
LSTMKIT_INLINE T sigmoid(T x) { return T(1) / (T(1) + exp_poly(-x)); }

template <typename T>
LSTMKIT_INLINE T tanh_(T x) { return T(1) - T(2) / (T(1) + exp_poly(T(2) * x)); }

}  // namespace
