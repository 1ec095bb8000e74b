// Option expressions of `(?)` conditionals (common/option_expr.h) from raw text,
// against options of every type: bool, enum/arch (string), flags (list).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/option_expr.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using crossfarm::ExprValue;
  using crossfarm::Result;
  crossfarm::ExprLookup lookup = [](std::string_view name) -> Result<ExprValue> {
    if (name == "arch") return ExprValue::String("x86_64");
    if (name == "debug") return ExprValue::Bool(true);
    if (name == "release") return ExprValue::Bool(false);
    if (name == "flags") return ExprValue::List({"a", "b", "docs"});
    if (name == "empty") return ExprValue::List({});
    return crossfarm::Err(crossfarm::Status::NotFound(std::string(name)));
  };
  (void)crossfarm::EvaluateOptionExpression(crossfarm::fuzz::AsView(data, size), lookup);
  return 0;
}
