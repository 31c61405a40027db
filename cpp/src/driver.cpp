#include "gradlime/driver.hpp"

namespace gradlime {

void validate_points(const RowMatrix& X, const DriverOptions& opt, Index rows_per_point, Index prologue_rows,
                     const BatchModel& model) {
    const Index N = X.rows(), d = X.cols();
    if (N == 0 || d == 0) throw std::invalid_argument("X must have at least one point and one feature");
    constexpr std::uint64_t kStreams = std::uint64_t{1} << 32;  // a point's stream is a 32-bit counter word
    if (static_cast<std::uint64_t>(N) > kStreams - 1)
        throw std::invalid_argument("X has more than 2^32 - 1 points; split the call");
    if (opt.point_offset > kStreams - static_cast<std::uint64_t>(N))
        throw std::invalid_argument("point_offset + N must be <= 2^32 (the points' streams); got point_offset = " +
                                    std::to_string(opt.point_offset));
    if (!X.allFinite()) throw std::invalid_argument("X contains NaN or inf");
    if (opt.batch_rows < 1) throw std::invalid_argument("batch_size must be >= 1");
    if (opt.kept_bytes < 0) throw std::invalid_argument("the kept-draws budget must be >= 0 bytes");
    if (!(opt.progress_interval >= 0.0)) throw std::invalid_argument("progress_interval must be >= 0");
    if (rows_per_point > 0 && N > (std::numeric_limits<Index>::max() - prologue_rows) / rows_per_point)
        throw std::invalid_argument("the number of model rows (N * rows per point) overflows");
    if (const NetworkModel* net = model.as_network(); net && net->network().input_dim() != d)
        throw std::invalid_argument("X has " + std::to_string(d) + " features but the model takes " +
                                    std::to_string(net->network().input_dim()));
}

void throw_non_finite(const char* what, const std::string& where) {
    throw std::invalid_argument("model returned a non-finite " + std::string(what) + " at " + where);
}

}  // namespace gradlime
