// Element type codes shared with lib/tensor/dtype.ts (DTYPES[...].code). Keep both in step.
#pragma once
#include <cstdint>

namespace mcore {

enum class DType : int {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  F8E4M3FN = 3,
  F8E5M2 = 4,
  I8 = 5,
  U8 = 6,
  I32 = 7,
  I64 = 8,
  BOOL = 9,
};
constexpr int kDTypeCount = 10;

inline bool validDType(int code) { return code >= 0 && code < kDTypeCount; }

inline int itemsize(DType d) {
  switch (d) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::I64: return 8;
    default: return 1;
  }
}

inline bool isFloat(DType d) { return static_cast<int>(d) <= static_cast<int>(DType::F8E5M2); }

const char* dtypeName(DType d);

}  // namespace mcore
