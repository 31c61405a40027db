// Shared Eigen aliases. Row-major matrices match numpy's C order, so (m, d) batches cross the
// Python boundary without copies.
#pragma once

#include <Eigen/Core>

namespace gradlime {

using Index = Eigen::Index;
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;
using RowMatrixMap = Eigen::Map<RowMatrix>;
using ConstRowMatrixMap = Eigen::Map<const RowMatrix>;

}  // namespace gradlime
