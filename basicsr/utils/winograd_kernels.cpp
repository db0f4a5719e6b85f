// Winograd F(4x4, 3x3) tile transforms for basicsr/utils/winograd_conv.py, built on first use by
// basicsr/utils/winograd_kernels.py. Each transform reads its tiles once and writes each result once, vectorised over
// the channels (contiguous in channels-last memory); the PyTorch-op version of the same transforms makes ~12 passes.
// B^T and A^T are Lavin & Gray's (CVPR 2016), applied separably as in winograd_conv.py.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <cstring>
#include <vector>

namespace {

constexpr int64_t kTile = 4;
constexpr int kSpan = 6;

// o[a] = sum_k B^T[a][k] d[k] for one tile axis (scalars in, scalars out: the channel loop stays vectorised).
template <typename T>
inline void input_1d(T d0, T d1, T d2, T d3, T d4, T d5, T& o0, T& o1, T& o2, T& o3, T& o4, T& o5) {
  const T even1 = d4 - T(4) * d2, odd1 = d3 - T(4) * d1, even2 = d4 - d2, odd2 = d3 - d1;
  o0 = T(4) * d0 - T(5) * d2 + d4;
  o1 = even1 + odd1;
  o2 = even1 - odd1;
  o3 = even2 + T(2) * odd2;
  o4 = even2 - T(2) * odd2;
  o5 = T(4) * d1 - T(5) * d3 + d5;
}

// o[i] = sum_a A^T[i][a] m[a] for one tile axis.
template <typename T>
inline void output_1d(T m0, T m1, T m2, T m3, T m4, T m5, T& o0, T& o1, T& o2, T& o3) {
  const T sum12 = m1 + m2, diff12 = m1 - m2, sum34 = m3 + m4, diff34 = m3 - m4;
  o0 = m0 + sum12 + sum34;
  o1 = diff12 + T(2) * diff34;
  o2 = sum12 + T(4) * sum34;
  o3 = diff12 + T(8) * diff34 + m5;
}

template <typename T>
void input_tiles(const T* x, T* out, int64_t batch, int64_t height, int64_t width, int64_t channels, int64_t rows,
                 int64_t cols) {
  const int64_t tiles = batch * rows * cols;
  at::parallel_for(0, tiles, 1, [&](int64_t begin, int64_t end) {
    const std::vector<T> zeros(channels, T(0));
    const T* taps[kSpan][kSpan];
    T* freq[kSpan * kSpan];
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / (rows * cols), r = (t / cols) % rows, c = t % cols;
      for (int k = 0; k < kSpan; ++k) {
        const int64_t y = kTile * r + k - 1;
        for (int l = 0; l < kSpan; ++l) {
          const int64_t x_pos = kTile * c + l - 1;
          const bool inside = y >= 0 && y < height && x_pos >= 0 && x_pos < width;
          taps[k][l] = inside ? x + ((n * height + y) * width + x_pos) * channels : zeros.data();
        }
      }
      for (int f = 0; f < kSpan * kSpan; ++f) freq[f] = out + (f * tiles + t) * channels;
#pragma omp simd
      for (int64_t ch = 0; ch < channels; ++ch) {
        T rows_[kSpan][kSpan];
        for (int l = 0; l < kSpan; ++l)
          input_1d(taps[0][l][ch], taps[1][l][ch], taps[2][l][ch], taps[3][l][ch], taps[4][l][ch], taps[5][l][ch],
                   rows_[0][l], rows_[1][l], rows_[2][l], rows_[3][l], rows_[4][l], rows_[5][l]);
        for (int a = 0; a < kSpan; ++a) {
          T* const* f = freq + a * kSpan;
          input_1d(rows_[a][0], rows_[a][1], rows_[a][2], rows_[a][3], rows_[a][4], rows_[a][5],
                   f[0][ch], f[1][ch], f[2][ch], f[3][ch], f[4][ch], f[5][ch]);
        }
      }
    }
  });
}

template <typename T>
void output_tiles(const T* products, const T* bias, T* out, int64_t batch, int64_t height, int64_t width,
                  int64_t channels, int64_t rows, int64_t cols) {
  const int64_t tiles = batch * rows * cols;
  at::parallel_for(0, tiles, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> ragged(kTile * kTile * channels);
    const T* freq[kSpan * kSpan];
    T* pixels[kTile * kTile];
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / (rows * cols), r = (t / cols) % rows, c = t % cols;
      const bool whole = kTile * r + kTile <= height && kTile * c + kTile <= width;
      for (int f = 0; f < kSpan * kSpan; ++f) freq[f] = products + (f * tiles + t) * channels;
      for (int i = 0; i < kTile; ++i)
        for (int j = 0; j < kTile; ++j)
          pixels[i * kTile + j] = whole ? out + ((n * height + kTile * r + i) * width + kTile * c + j) * channels
                                        : ragged.data() + (i * kTile + j) * channels;
#pragma omp simd
      for (int64_t ch = 0; ch < channels; ++ch) {
        T cols_[kTile][kSpan];
        for (int b = 0; b < kSpan; ++b)
          output_1d(freq[b][ch], freq[kSpan + b][ch], freq[2 * kSpan + b][ch], freq[3 * kSpan + b][ch],
                    freq[4 * kSpan + b][ch], freq[5 * kSpan + b][ch], cols_[0][b], cols_[1][b], cols_[2][b],
                    cols_[3][b]);
        const T shift = bias == nullptr ? T(0) : bias[ch];
        for (int i = 0; i < kTile; ++i) {
          T o0, o1, o2, o3;
          output_1d(cols_[i][0], cols_[i][1], cols_[i][2], cols_[i][3], cols_[i][4], cols_[i][5], o0, o1, o2, o3);
          T* const* p = pixels + i * kTile;
          p[0][ch] = o0 + shift;
          p[1][ch] = o1 + shift;
          p[2][ch] = o2 + shift;
          p[3][ch] = o3 + shift;
        }
      }
      if (whole) continue;
      for (int i = 0; i < kTile && kTile * r + i < height; ++i)
        for (int j = 0; j < kTile && kTile * c + j < width; ++j)
          std::memcpy(out + ((n * height + kTile * r + i) * width + kTile * c + j) * channels,
                      pixels[i * kTile + j], channels * sizeof(T));
    }
  });
}

}  // namespace

// x: [N, H, W, C] contiguous -> [36, N * rows * cols, C], rows = ceil(H / 4), cols = ceil(W / 4).
torch::Tensor input_transform(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.is_contiguous() && x.device().is_cpu(), "input_transform: contiguous NHWC CPU input");
  const int64_t batch = x.size(0), height = x.size(1), width = x.size(2), channels = x.size(3);
  const int64_t rows = (height + kTile - 1) / kTile, cols = (width + kTile - 1) / kTile;
  auto out = torch::empty({kSpan * kSpan, batch * rows * cols, channels}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "winograd_input_transform", [&] {
    input_tiles<scalar_t>(x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), batch, height, width, channels, rows,
                          cols);
  });
  return out;
}

// products: [36, N * rows * cols, K] contiguous -> [N, K, height, width] in channels-last memory, plus bias.
torch::Tensor output_transform(const torch::Tensor& products, const c10::optional<torch::Tensor>& bias,
                               int64_t batch, int64_t height, int64_t width) {
  const int64_t rows = (height + kTile - 1) / kTile, cols = (width + kTile - 1) / kTile;
  TORCH_CHECK(products.dim() == 3 && products.is_contiguous() && products.size(0) == kSpan * kSpan &&
                  products.size(1) == batch * rows * cols,
              "output_transform: products must be [36, tiles, C] contiguous");
  const int64_t channels = products.size(2);
  const bool has_bias = bias.has_value() && bias->defined();
  TORCH_CHECK(!has_bias || (bias->is_contiguous() && bias->numel() == channels), "output_transform: bias size");
  auto out = torch::empty({batch, channels, height, width},
                          products.options().memory_format(at::MemoryFormat::ChannelsLast));
  AT_DISPATCH_FLOATING_TYPES(products.scalar_type(), "winograd_output_transform", [&] {
    output_tiles<scalar_t>(products.data_ptr<scalar_t>(), has_bias ? bias->data_ptr<scalar_t>() : nullptr,
                           out.data_ptr<scalar_t>(), batch, height, width, channels, rows, cols);
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.def("input_transform", &input_transform, "Winograd F(4x4, 3x3) input tiles, [N, H, W, C] -> [36, T, C]");
  module.def("output_transform", &output_transform, "Winograd F(4x4, 3x3) output tiles plus bias, channels-last");
}
