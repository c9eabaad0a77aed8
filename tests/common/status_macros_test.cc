#include "common/status_macros.h"

#include <gtest/gtest.h>

#include <memory>

namespace sluice::common {
namespace {

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool ok) {
  if (!ok) return absl::InvalidArgumentError("no int");
  return std::make_unique<int>(7);
}

absl::Status UseInt(bool ok, int* out) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<int> value, MakeInt(ok));
  *out = *value;
  return absl::OkStatus();
}

absl::Status Chain(absl::Status first, int* calls) {
  SLUICE_RETURN_IF_ERROR(first);
  ++*calls;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturnMovesValueOut) {
  int out = 0;
  ASSERT_TRUE(UseInt(true, &out).ok());
  EXPECT_EQ(out, 7);
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesErrorUnchanged) {
  int out = 0;
  absl::Status s = UseInt(false, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "no int");
  EXPECT_EQ(out, 0);
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtFirstError) {
  int calls = 0;
  EXPECT_TRUE(Chain(absl::OkStatus(), &calls).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Chain(absl::UnavailableError("disk"), &calls).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace sluice::common
