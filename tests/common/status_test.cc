#include "common/status.h"

#include <gtest/gtest.h>

#include "common/provenance.h"

namespace crossfarm {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return Err(Status::InvalidArgument("not positive"));
  return v;
}

Result<int> Doubled(int v) {
  CF_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status Check(int v) {
  CF_TRY(ParsePositive(v));
  return Status::Ok();
}

TEST(StatusTest, TryPropagatesErrorsAndValues) {
  EXPECT_EQ(*Doubled(4), 8);
  EXPECT_EQ(Doubled(-1).error().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Check(1).ok());
  EXPECT_EQ(Check(0).message(), "not positive");
}

TEST(StatusTest, UserErrorCarriesProvenanceAndHint) {
  Status s = UserError({"elements/a.bst", 3, 5}, "unknown key 'kindd'", "did you mean 'kind'?");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "elements/a.bst:3:5: unknown key 'kindd'\n  hint: did you mean 'kind'?");
}

TEST(StatusTest, ContextIsPrefixed) {
  EXPECT_EQ(Status::NotFound("x").WithContext("ref y").ToString(), "NotFound: ref y: x");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
}

}  // namespace
}  // namespace crossfarm
