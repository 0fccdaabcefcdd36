// medkern/medkern.hpp — umbrella header: the public C++ API.
#pragma once

#include "medkern/core/buffer.hpp"
#include "medkern/core/config.hpp"
#include "medkern/core/cpu.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/isa.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/brgemm/registry.hpp"
#include "medkern/ops/convert.hpp"
#include "medkern/ops/gemm.hpp"
#include "medkern/ops/matmul.hpp"
#include "medkern/ops/peak.hpp"
